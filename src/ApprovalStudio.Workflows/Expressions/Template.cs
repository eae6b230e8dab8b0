using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ApprovalStudio.Workflows.Expressions;

/// <summary>
/// Strings with <c>{{ expression }}</c> placeholders: titles, URLs, messages and JSON bodies.
/// A string that is exactly one placeholder yields the expression's value (number, object…);
/// otherwise every placeholder is replaced by its value as text.
/// </summary>
public static partial class Template
{
    [GeneratedRegex(@"\{\{(.*?)\}\}", RegexOptions.Singleline)]
    private static partial Regex Placeholder();

    public static IEnumerable<string> Expressions(string template) =>
        Placeholder().Matches(template).Select(m => m.Groups[1].Value.Trim());

    /// <summary>Every expression found in the strings of a JSON value.</summary>
    public static IEnumerable<string> Expressions(JsonNode? node) => node switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => Expressions(s),
        JsonObject o => o.SelectMany(p => Expressions(p.Value)),
        JsonArray a => a.SelectMany(Expressions),
        _ => [],
    };

    public static string RenderText(string template, ExpressionEvaluator evaluator, JsonObject context) =>
        Placeholder().Replace(template, m => AsText(evaluator.Evaluate(m.Groups[1].Value.Trim(), context)));

    public static JsonNode? Render(JsonNode? node, ExpressionEvaluator evaluator, JsonObject context)
    {
        switch (node)
        {
            case JsonValue v when v.TryGetValue<string>(out var s):
                var single = Placeholder().Match(s);
                if (single.Success && single.Index == 0 && single.Length == s.Length)
                {
                    return evaluator.Evaluate(single.Groups[1].Value.Trim(), context);
                }

                return JsonValue.Create(RenderText(s, evaluator, context));
            case JsonObject o:
                var obj = new JsonObject();
                foreach (var (key, value) in o)
                {
                    obj[key] = Render(value, evaluator, context);
                }

                return obj;
            case JsonArray a:
                return new JsonArray([.. a.Select(item => Render(item, evaluator, context))]);
            default:
                return node?.DeepClone();
        }
    }

    private static string AsText(JsonNode? value) => value switch
    {
        null => string.Empty,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => value.ToJsonString(),
    };
}
