using System.Text.Json.Nodes;

namespace ApprovalStudio.Web.Features.Inbox;

public enum FieldInput
{
    Text,
    Multiline,
    Integer,
    Number,
    Boolean,
    Date,
    Choice,
}

/// <summary>One input of a form node, read from its JSON Schema property.</summary>
public sealed record FormField(string Name, string Label, FieldInput Input, bool Required, string? Help, IReadOnlyList<string> Choices, double? Min, double? Max)
{
    public static IReadOnlyList<FormField> From(JsonObject schema)
    {
        var required = (schema["required"] as JsonArray)?.Select(x => x?.GetValue<string>()).ToHashSet() ?? [];
        var fields = new List<FormField>();
        foreach (var (name, node) in schema["properties"] as JsonObject ?? [])
        {
            if (node is not JsonObject property)
            {
                continue;
            }

            var type = property["type"] is JsonArray types ? types.Select(t => t?.ToString()).FirstOrDefault(t => t != "null") : property["type"]?.ToString();
            var choices = (property["enum"] as JsonArray)?.Select(x => x?.ToString() ?? string.Empty).ToList() ?? [];
            var input = choices.Count > 0 ? FieldInput.Choice
                : type switch
                {
                    "integer" => FieldInput.Integer,
                    "number" => FieldInput.Number,
                    "boolean" => FieldInput.Boolean,
                    _ when property["format"]?.ToString() == "date" => FieldInput.Date,
                    _ when property["format"]?.ToString() == "textarea" || Number(property["maxLength"]) > 200 => FieldInput.Multiline,
                    _ => FieldInput.Text,
                };
            fields.Add(new FormField(name, property["title"]?.ToString() ?? name, input, required.Contains(name), property["description"]?.ToString(),
                choices, Number(property["minimum"]), Number(property["maximum"])));
        }

        return fields;
    }

    private static double? Number(JsonNode? node) => node is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;
}
