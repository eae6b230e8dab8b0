using System.Text.Json;
using System.Text.Json.Nodes;

namespace ApprovalStudio.Workflows.Json;

/// <summary>
/// JSON that parses but cannot be read. System.Text.Json reads an object lazily: a property given twice in one object
/// throws (<see cref="ArgumentException"/>) when the object is first read, and a string or a property name that is not valid
/// UTF-16 (an escaped lone surrogate such as <c>"\ud800"</c>) throws (<see cref="InvalidOperationException"/>) when read as
/// text — deep in whatever reads it. Both are found here, once, before anything reads the JSON, with the path where they are.
/// </summary>
public static class UnreadableJson
{
    public const string LoneSurrogate = "Not valid text: a string holds an unpaired UTF-16 surrogate (\\uD800–\\uDFFF).";

    /// <summary>The first place in <paramref name="node"/> that cannot be read (a JSON path from <paramref name="path"/>) and why; null when all of it can.</summary>
    public static (string Path, string Problem)? Find(JsonNode? node, string path = "$")
    {
        switch (node)
        {
            case JsonObject o:
                List<KeyValuePair<string, JsonNode?>> properties;
                try
                {
                    properties = [.. o];
                }
                catch (ArgumentException)
                {
                    return Duplicate(o, path);
                }
                catch (InvalidOperationException)
                {
                    return (path, LoneSurrogate);
                }

                foreach (var (name, value) in properties)
                {
                    if (Find(value, $"{path}.{name}") is { } found)
                    {
                        return found;
                    }
                }

                return null;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    if (Find(a[i], $"{path}[{i}]") is { } found)
                    {
                        return found;
                    }
                }

                return null;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                try
                {
                    _ = v.GetValue<string>();
                    return null;
                }
                catch (InvalidOperationException)
                {
                    return (path, LoneSurrogate);
                }

            default:
                return null;
        }
    }

    /// <summary>Names the property an object gives twice (the object cannot be read as one, but its text can).</summary>
    private static (string Path, string Problem) Duplicate(JsonObject o, string path)
    {
        try
        {
            using var document = JsonDocument.Parse(o.ToJsonString());
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                {
                    return ($"{path}.{property.Name}", $"'{property.Name}' is given twice; a property appears once in an object.");
                }
            }
        }
        catch (InvalidOperationException)
        {
            return (path, LoneSurrogate);
        }

        return (path, "A property is given twice in this object.");
    }
}
