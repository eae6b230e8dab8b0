using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Notifications;
using ApprovalStudio.Web.Features.People;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.Slack;

/// <summary>
/// A verified button press from Slack: the person is who Slack's signed payload says pressed (matched to the
/// directory by slackUserId), the answer goes through the resume pipeline like every other channel, and the
/// outcome goes back to the message through its response_url — by the notifications outbox, so that the
/// request itself answers Slack at once and a slow or failing response_url is retried.
/// </summary>
public sealed class SlackInteractions(
    AppDbContext db, ResumePipeline pipeline, NotificationSignal signal, IOptions<SlackOptions> options, TimeProvider clock, ILogger<SlackInteractions> log)
{
    /// <summary>Remembers a request's signature for twice the window; false when it was seen before (a replay).</summary>
    public async Task<bool> FirstTimeAsync(string signature, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var forgetBefore = now - (2 * options.Value.SignatureWindow) - TimeSpan.FromMinutes(1);
        await db.WriteAsync(ct => db.SlackRequests.Where(r => r.ReceivedAt < forgetBefore).ExecuteDeleteAsync(ct), cancellationToken);
        var hash = SHA256.HashData(Encoding.ASCII.GetBytes(signature));
        if (await db.SlackRequests.AnyAsync(r => r.SignatureHash == hash, cancellationToken))
        {
            return false; // Looked up first so that an ordinary replay is not logged as a failed insert; the key still decides a race.
        }

        db.SlackRequests.Add(new SlackRequestRecord { SignatureHash = hash, ReceivedAt = now });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return true;
        }
        catch (DbUpdateException)
        {
            db.ChangeTracker.Clear();
            return false;
        }
    }

    public async Task HandleAsync(JsonObject payload, CancellationToken cancellationToken)
    {
        if (Text(payload["type"]) != "block_actions" || payload["actions"] is not JsonArray { Count: > 0 } actions || actions[0] is not JsonObject action)
        {
            return;
        }

        var actionId = Text(action["action_id"]);
        var resId = Text(action["value"]);
        var body = actionId switch
        {
            SlackMessages.Approve => new JsonObject { ["decision"] = "Approved" },
            SlackMessages.Reject => new JsonObject { ["decision"] = "Rejected" },
            SlackMessages.Acknowledge => new JsonObject { ["acknowledged"] = true },
            _ => null, // "Open" and anything else: a link button, nothing to decide here.
        };
        var responseUrl = Text(payload["response_url"]);
        var slackUser = Text((payload["user"] as JsonObject)?["id"]);
        if (body is null || resId is null || slackUser is null || !Uri.TryCreate(responseUrl, UriKind.Absolute, out var responseUri)
            || responseUri.Scheme is not ("https" or "http"))
        {
            return;
        }

        var task = await db.Tasks.AsNoTracking().SingleOrDefaultAsync(t => t.ResId == resId, cancellationToken);
        if (task is null)
        {
            SlackLog.UnknownTask(log);
            return;
        }

        var person = await db.Users.AsNoTracking().Where(u => u.TenantId == task.TenantId && u.SlackUserId == slackUser)
            .OrderBy(u => u.UserId).FirstOrDefaultAsync(cancellationToken);
        JsonObject reply;
        if (person is null)
        {
            SlackLog.Unlinked(log, task.ExecutionId, task.NodeId);
            reply = SlackMessages.Ephemeral("Your Slack account is not linked to a person of Approval Studio: ask an admin to add your Slack user id to the directory, or use Open.");
        }
        else
        {
            var actor = PeopleDirectory.AsAssignee(task.TenantId, person.UserId, person);
            // The pressed message is replaced through its response_url below, so the accept queues no chat.update for it.
            var container = payload["container"] as JsonObject;
            var pressedOn = Text(container?["channel_id"]) is { } channel && Text(container?["message_ts"]) is { } ts
                ? $"{channel}/{ts}"
                : null;
            var outcome = await pipeline.ResumeAsync(new ResumeCommand(task.ResId, new AnswerGrant.Assignee(actor), NotificationChannels.Slack, body, AnsweredOn: pressedOn), cancellationToken);
            reply = await ReplyAsync(task, outcome, body as JsonObject, cancellationToken);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        db.Notifications.Add(new NotificationRecord
        {
            TenantId = task.TenantId, ExecutionId = task.ExecutionId, ResId = task.ResId, Kind = NotificationKinds.SlackResponse,
            Channel = NotificationChannels.Slack, RecipientUserId = person?.UserId, Address = responseUrl!, PayloadJson = reply.ToJsonString(),
            Status = NotificationStatuses.Pending, AvailableAt = now, CreatedAt = now,
        });
        await db.SaveChangesAsync(cancellationToken);
        signal.Notify();
    }

    /// <summary>A field of Slack's payload as text; null when it is absent or not a string (then it is not a press of ours).</summary>
    private static string? Text(JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    private async Task<JsonObject> ReplyAsync(TaskRecord task, ResumeOutcome outcome, JsonObject? body, CancellationToken cancellationToken) => outcome switch
    {
        ResumeOutcome.Gone gone => SlackMessages.Replace(task.Title, gone.Reason),
        ResumeOutcome.Accepted or ResumeOutcome.AlreadyResolved => SlackMessages.Replace(task.Title,
            (outcome is ResumeOutcome.AlreadyResolved ? "Already answered: " : string.Empty)
            + SlackMessages.Outcome(await db.Tasks.AsNoTracking().SingleAsync(t => t.ResId == task.ResId, cancellationToken))),
        ResumeOutcome.Voted voted => SlackMessages.Replace(task.Title,
            $"You voted {(string?)body?["decision"]}. {voted.Tally.Describe()}."),
        ResumeOutcome.AlreadyVoted already => SlackMessages.Ephemeral(
            $"You already voted {already.Decision} via {already.Channel} at {SlackMessages.When(already.At)}; a vote counts once."),
        ResumeOutcome.Forbidden forbidden => SlackMessages.Ephemeral(forbidden.Reason),
        ResumeOutcome.Conflict conflict => SlackMessages.Ephemeral(conflict.Reason),
        ResumeOutcome.Invalid invalid => SlackMessages.Ephemeral(
            $"This answer needs more than a button: {string.Join(" ", invalid.Errors.SelectMany(e => e.Value))} Use Open to answer on the page."),
        _ => SlackMessages.Ephemeral("This task no longer exists."),
    };
}

internal static partial class SlackLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "A Slack request was refused: {Reason}")]
    public static partial void Refused(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A Slack button named a task that does not exist")]
    public static partial void UnknownTask(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "A Slack user not in the directory pressed a button of task {NodeId} in run {ExecutionId}")]
    public static partial void Unlinked(ILogger logger, string executionId, string nodeId);
}
