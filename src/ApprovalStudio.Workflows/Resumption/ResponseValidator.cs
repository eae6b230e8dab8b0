using System.Text.Json.Nodes;
using ApprovalStudio.Workflows.Definitions;
using ApprovalStudio.Workflows.Execution;

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

    /// <param name="pendingCalls">For a tool-call node: the calls the task waits for (every one must be answered).</param>
    public static ResponseCheck Check(WaitingNodeDefinition node, JsonNode? body, string actor, DateTimeOffset at, IReadOnlyList<ToolCall>? pendingCalls = null) => node switch
    {
        ApprovalNode approval => CheckApproval(approval, body, actor, at),
        ReviewNode => CheckReview(body, actor, at),
        FormNode form => CheckForm(form, body),
        WaitNode => new ResponseCheck(body?.DeepClone(), new Dictionary<string, string[]>()),
        ToolCallNode => CheckToolOutputs(body, pendingCalls ?? []),
        _ => ResponseCheck.Invalid("$", $"A {node.Type} node is not answered through this route."),
    };

    /// <summary>
    /// <c>{"toolOutputs": {key: output}, "messages"?: [...]}</c>: keys are toolCallIds, or a tool's name when exactly one
    /// pending call has it (parallel calls of one tool are answered by id). Every pending call must be answered, once.
    /// The output keys every answer by toolCallId.
    /// </summary>
    private static ResponseCheck CheckToolOutputs(JsonNode? body, IReadOnlyList<ToolCall> calls)
    {
        if (body is not JsonObject answer || answer["toolOutputs"] is not JsonObject given)
        {
            return ResponseCheck.Invalid("toolOutputs", "toolOutputs is an object of toolCallId (or tool name) → output.");
        }

        if (answer["messages"] is { } messages && messages is not JsonArray)
        {
            return ResponseCheck.Invalid("messages", "messages is an array.");
        }

        var outputs = new JsonObject();
        var errors = new Dictionary<string, string[]>();
        foreach (var (key, value) in given)
        {
            var byId = calls.FirstOrDefault(c => c.ToolCallId == key);
            var byName = calls.Where(c => c.ToolName == key).ToList();
            var call = byId ?? (byName.Count == 1 ? byName[0] : null);
            if (call is null)
            {
                errors[$"toolOutputs.{key}"] = [byName.Count > 1
                    ? $"{byName.Count} pending calls use tool '{key}': key their outputs by toolCallId ({string.Join(", ", byName.Select(c => c.ToolCallId))})."
                    : $"'{key}' is neither a pending toolCallId nor a pending tool's name."];
                continue;
            }

            if (outputs.ContainsKey(call.ToolCallId))
            {
                errors[$"toolOutputs.{key}"] = [$"Call {call.ToolCallId} ({call.ToolName}) is answered twice."];
                continue;
            }

            outputs[call.ToolCallId] = value?.DeepClone();
        }

        foreach (var missing in calls.Where(c => !outputs.ContainsKey(c.ToolCallId) && !errors.Keys.Any(k => k.EndsWith("." + c.ToolName, StringComparison.Ordinal))))
        {
            errors[$"toolOutputs.{missing.ToolCallId}"] = [$"The output of {missing.ToolName} ({missing.ToolCallId}) is missing."];
        }

        return errors.Count > 0
            ? new ResponseCheck(null, errors)
            : new ResponseCheck(new JsonObject { ["toolOutputs"] = outputs, ["messages"] = answer["messages"]?.DeepClone() }, errors);
    }

    private static ResponseCheck CheckApproval(ApprovalNode node, JsonNode? body, string actor, DateTimeOffset at)
    {
        var choices = node.TakesRequestChanges ? "\"Approved\", \"Rejected\" or \"RequestChanges\"" : "\"Approved\" or \"Rejected\"";
        if (body is not JsonObject obj)
        {
            return ResponseCheck.Invalid("$", $"The answer is a JSON object {{\"decision\": {choices}, \"comment\"}}.");
        }

        var errors = new Dictionary<string, string[]>();
        string? decision = null;
        if (obj["decision"] is not JsonValue d || !d.TryGetValue(out decision)
            || !(decision is ApprovalDecisions.Approved or ApprovalDecisions.Rejected || (decision == ApprovalDecisions.RequestChanges && node.TakesRequestChanges)))
        {
            errors["decision"] = [obj["decision"] is null
                ? $"decision is required: {choices}."
                : decision == ApprovalDecisions.RequestChanges
                    ? "This approval does not take RequestChanges: none of its edges routes it."
                    : $"decision must be {choices}."];
        }

        var comment = Comment(obj, errors);
        if (!errors.ContainsKey("comment") && string.IsNullOrWhiteSpace(comment))
        {
            if (decision == ApprovalDecisions.Rejected && node.RequireCommentOnReject)
            {
                errors["comment"] = ["A comment is required when rejecting."];
            }
            else if (decision == ApprovalDecisions.RequestChanges && node.TakesRequestChanges)
            {
                errors["comment"] = ["A comment is required when requesting changes: say what to change."];
            }
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
