using System.Text.Json.Nodes;
using ApprovalStudio.Workflows.Definitions;

namespace ApprovalStudio.Workflows.Resumption;

/// <summary>The answer to a waiting node, checked for its kind, and the node output it becomes.</summary>
public sealed record ResponseCheck(JsonNode? Output, IReadOnlyDictionary<string, string[]> Errors)
{
    public bool IsValid => Errors.Count == 0;

    public static ResponseCheck Invalid(string field, string message) => new(null, new Dictionary<string, string[]> { [field] = [message] });
}

/// <summary>
/// Checks a person's answer against the node it answers (CONTRACT §4.1): the same rules for every
/// channel, so an answer from the inbox, an email link, Slack or the API cannot be told apart.
/// </summary>
public static class ResponseValidator
{
    public const int MaxCommentLength = 4000;

    public static ResponseCheck Check(WaitingNodeDefinition node, JsonNode? body, string actor, DateTimeOffset at) => node switch
    {
        ApprovalNode approval => CheckApproval(approval, body, actor, at),
        ReviewNode => CheckReview(body, actor, at),
        FormNode form => CheckForm(form, body),
        WaitNode => new ResponseCheck(body?.DeepClone(), new Dictionary<string, string[]>()),
        ToolCallNode => body is JsonObject { } answer && answer["toolOutputs"] is JsonObject
            ? new ResponseCheck(answer.DeepClone(), new Dictionary<string, string[]>())
            : ResponseCheck.Invalid("toolOutputs", "toolOutputs is an object of toolCallId → output."),
        _ => ResponseCheck.Invalid("$", $"A {node.Type} node is not answered through this route."),
    };

    private static ResponseCheck CheckApproval(ApprovalNode node, JsonNode? body, string actor, DateTimeOffset at)
    {
        if (body is not JsonObject obj)
        {
            return ResponseCheck.Invalid("$", "The answer is a JSON object {\"decision\": \"Approved\"|\"Rejected\", \"comment\"}.");
        }

        var errors = new Dictionary<string, string[]>();
        string? decision = null;
        if (obj["decision"] is not JsonValue d || !d.TryGetValue(out decision) || decision is not ("Approved" or "Rejected"))
        {
            errors["decision"] = [obj["decision"] is null ? "decision is required: \"Approved\" or \"Rejected\"." : "decision must be \"Approved\" or \"Rejected\"."];
        }

        var comment = Comment(obj, errors);
        if (decision == "Rejected" && node.RequireCommentOnReject && string.IsNullOrWhiteSpace(comment) && !errors.ContainsKey("comment"))
        {
            errors["comment"] = ["A comment is required when rejecting."];
        }

        return errors.Count > 0
            ? new ResponseCheck(null, errors)
            : new ResponseCheck(new JsonObject { ["decision"] = decision, ["comment"] = comment, ["actor"] = actor, ["at"] = at }, errors);
    }

    private static ResponseCheck CheckReview(JsonNode? body, string actor, DateTimeOffset at)
    {
        if (body is not JsonObject obj)
        {
            return ResponseCheck.Invalid("$", "The answer is a JSON object {\"acknowledged\": true, \"comment\"}.");
        }

        var errors = new Dictionary<string, string[]>();
        if (obj["acknowledged"] is not JsonValue a || !a.TryGetValue<bool>(out var acknowledged) || !acknowledged)
        {
            errors["acknowledged"] = [obj["acknowledged"] is null ? "acknowledged is required and must be true." : "acknowledged must be true."];
        }

        var comment = Comment(obj, errors);
        return errors.Count > 0
            ? new ResponseCheck(null, errors)
            : new ResponseCheck(new JsonObject { ["acknowledged"] = true, ["comment"] = comment, ["actor"] = actor, ["at"] = at }, errors);
    }

    private static ResponseCheck CheckForm(FormNode node, JsonNode? body)
    {
        var errors = FormSchema.Validate(node.Schema, body);
        return new ResponseCheck(errors.Count == 0 ? body!.DeepClone() : null, errors);
    }

    private static string? Comment(JsonObject obj, Dictionary<string, string[]> errors)
    {
        switch (obj["comment"])
        {
            case null:
                return null;
            case JsonValue v when v.TryGetValue<string>(out var s):
                if (s.Length > MaxCommentLength)
                {
                    errors["comment"] = [$"comment must have at most {MaxCommentLength} characters."];
                }

                return s;
            default:
                errors["comment"] = ["comment must be text."];
                return null;
        }
    }
}
