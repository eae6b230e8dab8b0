using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ApprovalStudio.Workflows.Definitions;

namespace ApprovalStudio.Web.Features.Inbox;

/// <summary>
/// What the lists and the run page say instead of the stored names: node ids, node types, channels,
/// stack keys and answers as a person reads them ("Approved: receipts look right", "via Slack").
/// </summary>
public static class PlainWords
{
    /// <summary>"manager" → "Manager", "send-invoice" / "send_invoice" / "sendInvoice" → "Send invoice", "callHTTP2" → "Call HTTP 2".</summary>
    public static string Humanize(string id)
    {
        if (string.IsNullOrWhiteSpace(id))
        {
            return id;
        }

        var words = new List<string>();
        var word = new StringBuilder();
        void Flush()
        {
            if (word.Length > 0)
            {
                words.Add(word.ToString());
                word.Clear();
            }
        }

        for (var i = 0; i < id.Length; i++)
        {
            var c = id[i];
            if (c is '-' or '_' or '.' or ' ' or ':' or '/')
            {
                Flush();
                continue;
            }

            if (word.Length > 0)
            {
                var previous = word[^1];
                var nextIsLower = i + 1 < id.Length && char.IsLower(id[i + 1]);
                var boundary = (char.IsUpper(c) && (char.IsLower(previous) || (char.IsUpper(previous) && nextIsLower)))
                    || (char.IsDigit(c) != char.IsDigit(previous));
                if (boundary)
                {
                    Flush();
                }
            }

            word.Append(c);
        }

        Flush();
        for (var i = 0; i < words.Count; i++)
        {
            var w = words[i];
            var acronym = w.Length > 1 && w.All(ch => char.IsUpper(ch) || char.IsDigit(ch));
            words[i] = acronym ? w : i == 0 ? char.ToUpperInvariant(w[0]) + w[1..].ToLowerInvariant() : w.ToLowerInvariant();
        }

        return string.Join(' ', words);
    }

    /// <summary>A node type as people read it ("Tool call", "HTTP request", "Loop").</summary>
    public static string NodeType(string type) => type switch
    {
        NodeTypes.Approval => "Approval",
        NodeTypes.Form => "Form",
        NodeTypes.Review => "Review",
        NodeTypes.Wait => "Wait",
        NodeTypes.ToolCall => "Tool call",
        NodeTypes.ForEach => "Loop",
        NodeTypes.Set => "Set values",
        NodeTypes.Http => "HTTP request",
        NodeTypes.Fail => "Fail",
        _ => Humanize(type),
    };

    /// <summary>Where an answer came from ("Inbox", "Email link", "Slack", "API").</summary>
    public static string Channel(string? channel) => channel switch
    {
        null or "" => "—",
        "inbox" => "Inbox",
        "api" => "API",
        "slack" => "Slack",
        "email" => "Email link",
        "dispatch" => "Agent runtime",
        "webhook" => "Webhook",
        "system" => "System",
        _ => Humanize(channel),
    };

    /// <summary>What a message was about ("New task", "Reminder").</summary>
    /// <summary>How a message was sent (not how an answer came in: an email is "Email", its link answering is "Email link").</summary>
    public static string MessageChannel(string channel) => channel switch
    {
        "email" => "Email",
        "slack" => "Slack",
        _ => Humanize(channel),
    };

    public static string MessageKind(string kind) => kind switch
    {
        "TaskCreated" => "New task",
        "Reminder" => "Reminder",
        "SlackResponse" => "Answer shown",
        "SlackUpdate" => "Outcome shown",
        _ => Humanize(kind),
    };

    /// <summary>The loop iterations a node run sits in: "item 2 of 3" (nested: "item 2 of 3 › item 1 of 4"); empty at top level.</summary>
    public static string Iteration(string stackJson, string stackKey)
    {
        if (string.IsNullOrEmpty(stackKey))
        {
            return string.Empty;
        }

        try
        {
            if (JsonNode.Parse(stackJson) is JsonArray frames && frames.Count > 0)
            {
                return string.Join(" › ", frames.Select(f =>
                {
                    var index = (int?)f?["index"] ?? (int?)f?["Index"] ?? 0;
                    var total = (int?)f?["total"] ?? (int?)f?["Total"];
                    return total is null ? $"item {index + 1}" : $"item {index + 1} of {total}";
                }));
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // Fall through to the key.
        }

        return stackKey;
    }

    /// <summary>
    /// An answer in a line: "Approved: looks right", "Rejected", "Changes requested: add the receipt", "Acknowledged", "Department: Engineering, Remote: yes"
    /// (form fields by their schema titles when <paramref name="node"/> is the form).
    /// </summary>
    public static string Answer(string kind, JsonNode? response, NodeDefinition? node = null)
    {
        var comment = Text(response?["comment"]);
        var withComment = (string head) => string.IsNullOrWhiteSpace(comment) ? head : $"{head}: {comment}";
        switch (kind)
        {
            case "Approval":
                return withComment(Executions.TaskOutcomes.Verb(Text(response?["decision"])));
            case "Review":
                return withComment("Acknowledged");
            case "ToolCall":
                var outputs = (response?["toolOutputs"] as JsonObject)?.Count ?? 0;
                return outputs == 1 ? "1 tool result" : $"{outputs} tool results";
            case "UserForm":
                if (response is not JsonObject fields || fields.Count == 0)
                {
                    return "Submitted";
                }

                var schema = (node as FormNode)?.Schema["properties"] as JsonObject;
                return string.Join(", ", fields.Select(p => $"{FieldTitle(schema, p.Key)}: {Text(p.Value)}"));
            default:
                return response is JsonObject { Count: > 0 } data
                    ? "Resumed with " + string.Join(", ", data.Select(p => $"{Humanize(p.Key)}: {Text(p.Value)}"))
                    : "Resumed";
        }
    }

    private static string FieldTitle(JsonObject? schema, string name) =>
        schema?[name]?["title"] is JsonValue title && title.TryGetValue<string>(out var text) && !string.IsNullOrWhiteSpace(text) ? text : Humanize(name);

    private static string Text(JsonNode? node) => node switch
    {
        null => string.Empty,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v when v.TryGetValue<bool>(out var b) => b ? "yes" : "no",
        JsonValue v when v.TryGetValue<double>(out var d) => d.ToString(CultureInfo.InvariantCulture),
        JsonArray a => string.Join(", ", a.Select(Text)),
        _ => node.ToJsonString(),
    };
}
