using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Persistence;

namespace ApprovalStudio.Web.Features.Notifications;

/// <summary>The buttons under a task's message, and the messages that replace it once it is answered.</summary>
public static class SlackMessages
{
    public const string Approve = "approve";
    public const string Reject = "reject";
    public const string Acknowledge = "acknowledge";
    public const string Open = "open";

    /// <summary>
    /// The tenant's blocks plus the actions: Approve/Reject or Acknowledge answer in Slack (the value is the
    /// task's resId; who pressed comes from Slack's signed payload), and "Open" follows the recipient's deep link,
    /// which is also how a form is filled in and how a rejection that needs a comment is made.
    /// </summary>
    public static SlackMessage WithActions(SlackMessage message, TaskRecord task, bool rejectNeedsComment, string link)
    {
        var actions = new JsonArray();
        switch (task.Kind)
        {
            case "Approval":
                actions.Add(Button(Approve, "Approve", task.ResId, "primary"));
                if (!rejectNeedsComment)
                {
                    actions.Add(Button(Reject, "Reject", task.ResId, "danger"));
                }

                actions.Add(LinkButton(rejectNeedsComment ? "Reject with a comment…" : "Open", link));
                break;
            case "Review":
                actions.Add(Button(Acknowledge, "Acknowledge", task.ResId, "primary"));
                actions.Add(LinkButton("Open", link));
                break;
            default:
                actions.Add(LinkButton("Open the form", link));
                break;
        }

        var blocks = (JsonArray)message.Blocks.DeepClone();
        blocks.Add(new JsonObject { ["type"] = "actions", ["block_id"] = "approval-studio", ["elements"] = actions });
        return message with { Blocks = blocks };
    }

    /// <summary>The message with a line under it saying where the vote on its approval stands (issue 15).</summary>
    public static SlackMessage WithTally(SlackMessage message, string tally)
    {
        var blocks = (JsonArray)message.Blocks.DeepClone();
        blocks.Add(new JsonObject { ["type"] = "context", ["block_id"] = "approval-studio-tally", ["elements"] = new JsonArray { Mrkdwn(MessageTemplates.SlackEscape(tally)) } });
        return message with { Blocks = blocks };
    }

    /// <summary>Replaces the original message: the task is settled, its buttons go.</summary>
    public static JsonObject Replace(string title, string outcome) => new()
    {
        ["replace_original"] = true,
        ["text"] = $"{title}: {outcome}",
        ["blocks"] = new JsonArray
        {
            new JsonObject { ["type"] = "section", ["text"] = Mrkdwn($"*{MessageTemplates.SlackEscape(title)}*") },
            new JsonObject { ["type"] = "context", ["elements"] = new JsonArray { Mrkdwn(MessageTemplates.SlackEscape(outcome)) } },
        },
    };

    /// <summary>A note only the person who pressed sees; the message and its buttons stay.</summary>
    public static JsonObject Ephemeral(string text) => new()
    {
        ["response_type"] = "ephemeral",
        ["replace_original"] = false,
        ["text"] = MessageTemplates.SlackEscape(text),
    };

    /// <summary>How a settled task ended, for the messages that asked about it.</summary>
    public static string Outcome(TaskRecord task) => task.Status switch
    {
        TaskStatuses.Resolved => $"{Executions.TaskOutcomes.Verb(task)} by {task.ResolvedByName ?? task.ResolvedBy} via {task.Channel} at {When(task.ResolvedAt)}.",
        TaskStatuses.Expired => Executions.Votes.Describe(task.TallyJson) is { } tally
            ? $"The task passed its deadline ({When(task.ExpiresAt)}) before its vote was settled: {tally}."
            : $"The task passed its deadline ({When(task.ExpiresAt)}) unanswered.",
        TaskStatuses.Cancelled => "The run ended before this task was answered.",
        _ => "Waiting for an answer.",
    };

    public static string When(DateTime? at) => at is { } time ? MessageTemplates.Format(time) : "an earlier time";

    private static JsonObject Button(string actionId, string text, string value, string style) => new()
    {
        ["type"] = "button", ["action_id"] = actionId, ["text"] = PlainText(text), ["value"] = value, ["style"] = style,
    };

    private static JsonObject LinkButton(string text, string url) => new()
    {
        ["type"] = "button", ["action_id"] = Open, ["text"] = PlainText(text), ["url"] = url,
    };

    private static JsonObject PlainText(string text) => new() { ["type"] = "plain_text", ["text"] = text };

    private static JsonObject Mrkdwn(string text) => new() { ["type"] = "mrkdwn", ["text"] = text };
}
