using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

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

/// <summary>
/// One input of a form node, read from its JSON Schema property, with the limits the page checks while
/// a person types. The server checks the same schema again (<c>FormSchema.Validate</c>) with the same wording.
/// </summary>
public sealed record FormField(
    string Name, string Label, FieldInput Input, bool Required, string? Help, IReadOnlyList<string> Choices, double? Min, double? Max,
    int? MinLength = null, int? MaxLength = null, string? Pattern = null)
{
    /// <summary>The id of the element around the field (the error summary links to it).</summary>
    public string ElementId => "field-" + Name;

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
                choices, Number(property["minimum"]), Number(property["maximum"]),
                (int?)Number(property["minLength"]), (int?)Number(property["maxLength"]), property["pattern"]?.ToString()));
        }

        return fields;
    }

    /// <summary>The message for a missing required value, as the server words it.</summary>
    public string RequiredMessage => $"{Label} is required.";

    /// <summary>
    /// What is wrong with <paramref name="value"/> against this field's limits (null when nothing is, or when it is
    /// empty: a missing value is <see cref="RequiredMessage"/>'s business).
    /// </summary>
    public string? Check(object? value) => value switch
    {
        null => null,
        string s when string.IsNullOrEmpty(s) => null,
        string s => CheckText(s),
        long l => CheckNumber(l),
        double d => CheckNumber(d),
        int i => CheckNumber(i),
        _ => null,
    };

    /// <summary>The problem of a value, the missing required value included.</summary>
    public string? Problem(object? value) =>
        Required && value is null or "" ? RequiredMessage : Check(value);

    private string? CheckText(string s)
    {
        if (MinLength is { } min && s.Length < min)
        {
            return $"{Label} must have at least {min} characters.";
        }

        if (MaxLength is { } max && s.Length > max)
        {
            return $"{Label} must have at most {max} characters.";
        }

        if (Choices.Count > 0 && !Choices.Contains(s))
        {
            return $"{Label} must be one of: {string.Join(", ", Choices.Select(c => $"\"{c}\""))}.";
        }

        if (Pattern is { } pattern && !Matches(pattern, s))
        {
            return $"{Label} does not match the pattern {pattern}.";
        }

        return null;
    }

    private string? CheckNumber(double n) =>
        Min is { } min && n < min ? $"{Label} must be at least {Format(min)}."
        : Max is { } max && n > max ? $"{Label} must be at most {Format(max)}."
        : null;

    private static bool Matches(string pattern, string s)
    {
        try
        {
            return Regex.IsMatch(s, pattern, RegexOptions.None, TimeSpan.FromMilliseconds(200));
        }
        catch (Exception ex) when (ex is ArgumentException or RegexMatchTimeoutException)
        {
            return true; // the server has the last word
        }
    }

    private static string Format(double d) => d.ToString(CultureInfo.InvariantCulture);

    private static double? Number(JsonNode? node) => node is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;
}
