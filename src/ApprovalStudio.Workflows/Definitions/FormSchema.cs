using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NJsonSchema;
using NJsonSchema.Validation;

namespace ApprovalStudio.Workflows.Definitions;

/// <summary>
/// The JSON Schema of a form node: checked when a definition is saved (NJsonSchema accepts almost
/// anything, so the shape a form can render is checked here first) and used to validate answers.
/// </summary>
public static class FormSchema
{
    private static readonly HashSet<string> KnownTypes = ["string", "number", "integer", "boolean", "array", "object", "null"];
    private static readonly ConcurrentDictionary<string, JsonSchema> Parsed = new(StringComparer.Ordinal);

    public static JsonObject Check(JsonNode? node, string path, List<DefinitionProblem> problems)
    {
        if (node is not JsonObject schema)
        {
            problems.Add(new(path, "A form node needs 'schema': a JSON Schema object with type \"object\" and properties."));
            return [];
        }

        if (schema["type"]?.ToString() != "object")
        {
            problems.Add(new(path + ".type", "A form schema has \"type\": \"object\"."));
        }

        if (schema["properties"] is not JsonObject properties || properties.Count == 0)
        {
            problems.Add(new(path + ".properties", "A form schema lists its fields under 'properties'."));
            return schema;
        }

        foreach (var (name, value) in properties)
        {
            CheckProperty(value, $"{path}.properties.{name}", problems);
        }

        if (schema["required"] is JsonNode required)
        {
            if (required is not JsonArray list || list.Any(x => x is not JsonValue v || !v.TryGetValue<string>(out _)))
            {
                problems.Add(new(path + ".required", "'required' is an array of property names."));
            }
            else
            {
                foreach (var missing in list.Select(x => x!.GetValue<string>()).Where(n => !properties.ContainsKey(n)))
                {
                    problems.Add(new(path + ".required", $"Required field '{missing}' is not among the properties."));
                }
            }
        }

        // NJsonSchema resolves a "$ref" to a URL or file by fetching it: a definition must not make the server do that.
        if (ExternalReference(schema, path) is { } external)
        {
            problems.Add(new(external, "A form schema's $ref points inside the schema only (\"#/...\"), never to a URL or file."));
            return schema;
        }

        try
        {
            Parse(schema.ToJsonString());
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            problems.Add(new(path, "Invalid JSON Schema: " + ex.Message));
        }

        return schema;
    }

    private static void CheckProperty(JsonNode? node, string path, List<DefinitionProblem> problems)
    {
        if (node is not JsonObject property)
        {
            problems.Add(new(path, "A property is a JSON Schema object such as {\"type\": \"string\"}."));
            return;
        }

        var types = property["type"] switch
        {
            null => [],
            JsonArray a => a.Select(x => x?.ToString() ?? string.Empty).ToArray(),
            var t => [t.ToString()],
        };
        foreach (var type in types.Where(t => !KnownTypes.Contains(t)))
        {
            problems.Add(new(path + ".type", $"Unknown JSON Schema type '{type}'."));
        }

        if (property["pattern"] is JsonNode pattern)
        {
            try
            {
                _ = new Regex(pattern.ToString(), RegexOptions.None, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException ex)
            {
                problems.Add(new(path + ".pattern", "Invalid regular expression: " + ex.Message));
            }
        }

        if (property["enum"] is JsonNode values && (values is not JsonArray list || list.Count == 0))
        {
            problems.Add(new(path + ".enum", "'enum' is a non-empty array of allowed values."));
        }

        foreach (var bound in new[] { "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength" })
        {
            if (property[bound] is JsonNode b && (b is not JsonValue v || !v.TryGetValue<double>(out _)))
            {
                problems.Add(new($"{path}.{bound}", $"'{bound}' is a number."));
            }
        }
    }

    /// <summary>Validates submitted fields; the errors are keyed by field name (empty when valid).</summary>
    public static Dictionary<string, string[]> Validate(JsonObject schema, JsonNode? fields)
    {
        var errors = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        if (fields is not JsonObject)
        {
            return new() { ["$"] = ["The form's answer is a JSON object of field → value."] };
        }

        // Json.NET reads an integer beyond 64 bits as a BigInteger, on which NJsonSchema's checks throw: refused here, by field.
        if (HugeIntegerAt(fields, string.Empty) is { } huge)
        {
            return new() { [huge] = [$"{huge} is too large a number."] };
        }

        var parsed = Parse(schema.ToJsonString());
        foreach (var error in Flatten(parsed.Validate(fields.ToJsonString())))
        {
            var field = FieldName(error);
            if (!errors.TryGetValue(field, out var list))
            {
                errors[field] = list = [];
            }

            list.Add(Describe(error, schema));
        }

        return errors.ToDictionary(p => p.Key, p => p.Value.Distinct().ToArray(), StringComparer.Ordinal);
    }

    private static string? HugeIntegerAt(JsonNode? node, string path) => node switch
    {
        JsonObject o => o.Select(p => HugeIntegerAt(p.Value, path.Length == 0 ? p.Key : $"{path}.{p.Key}")).FirstOrDefault(found => found is not null),
        JsonArray a => a.Select((item, i) => HugeIntegerAt(item, $"{path}[{i}]")).FirstOrDefault(found => found is not null),
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && !v.TryGetValue<long>(out _)
            && v.ToJsonString().TrimStart('-').All(char.IsAsciiDigit) => path,
        _ => null,
    };

    private static IEnumerable<ValidationError> Flatten(IEnumerable<ValidationError> errors) =>
        errors.SelectMany(e => e is ChildSchemaValidationError child
            ? child.Errors.Values.SelectMany(Flatten).DefaultIfEmpty(e)
            : [e]);

    private static string FieldName(ValidationError error)
    {
        var path = error.Path?.TrimStart('#', '/') ?? string.Empty;
        if (path.Length == 0)
        {
            return error.Property ?? "$";
        }

        return path.Replace('/', '.');
    }

    private static string Describe(ValidationError error, JsonObject schema)
    {
        var field = error.Property ?? FieldName(error);
        var property = schema["properties"]?[field] as JsonObject;
        var label = property?["title"]?.ToString() ?? field;
        return error.Kind switch
        {
            ValidationErrorKind.PropertyRequired => $"{label} is required.",
            ValidationErrorKind.StringExpected => $"{label} must be text.",
            ValidationErrorKind.NumberExpected => $"{label} must be a number.",
            ValidationErrorKind.IntegerExpected => $"{label} must be a whole number.",
            ValidationErrorKind.BooleanExpected => $"{label} must be true or false.",
            ValidationErrorKind.NumberTooSmall => $"{label} must be at least {property?["minimum"] ?? property?["exclusiveMinimum"]}.",
            ValidationErrorKind.NumberTooBig => $"{label} must be at most {property?["maximum"] ?? property?["exclusiveMaximum"]}.",
            ValidationErrorKind.StringTooShort => $"{label} must have at least {property?["minLength"]} characters.",
            ValidationErrorKind.StringTooLong => $"{label} must have at most {property?["maxLength"]} characters.",
            ValidationErrorKind.PatternMismatch => $"{label} does not match the pattern {property?["pattern"]}.",
            ValidationErrorKind.NotInEnumeration => $"{label} must be one of: {string.Join(", ", (property?["enum"] as JsonArray)?.Select(x => x?.ToJsonString()) ?? [])}.",
            ValidationErrorKind.DateExpected or ValidationErrorKind.DateTimeExpected => $"{label} must be a date (YYYY-MM-DD).",
            ValidationErrorKind.NoAdditionalPropertiesAllowed => $"{field} is not a field of this form.",
            _ => $"{label}: {error.Kind}.",
        };
    }

    private static JsonSchema Parse(string json) =>
        Parsed.GetOrAdd(json, static j => ExternalReference(JsonNode.Parse(j), "$") is { } external
            ? throw new InvalidOperationException($"The form schema refers outside itself at {external}.")
            : JsonSchema.FromJsonAsync(j).GetAwaiter().GetResult());

    /// <summary>The path of the first <c>$ref</c> that is not a pointer into the schema itself (<c>#…</c>), or null.</summary>
    private static string? ExternalReference(JsonNode? node, string path)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (name, value) in o)
                {
                    if (name == "$ref" && !(value is JsonValue v && v.TryGetValue<string>(out var target) && target.StartsWith('#')))
                    {
                        return $"{path}.$ref";
                    }

                    if (ExternalReference(value, $"{path}.{name}") is { } found)
                    {
                        return found;
                    }
                }

                return null;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    if (ExternalReference(a[i], $"{path}[{i}]") is { } found)
                    {
                        return found;
                    }
                }

                return null;
            default:
                return null;
        }
    }
}
