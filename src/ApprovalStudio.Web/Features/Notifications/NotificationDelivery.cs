using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Features.Workflows;
using ApprovalStudio.Web.Infrastructure;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Workflows.Definitions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.Notifications;

/// <summary>
/// What became of one outbox row: sent (with the channel's id of the message), skipped and why, or not yet —
/// to be tried again after <see cref="Later"/> without counting as a failed attempt.
/// </summary>
public sealed record DeliveryResult(bool Sent, string? ExternalId = null, string? SkipReason = null, TimeSpan? Later = null)
{
    public static DeliveryResult Skip(string reason) => new(false, SkipReason: reason);

    public static DeliveryResult NotYet(string reason, TimeSpan after) => new(false, SkipReason: reason, Later: after);
}

/// <summary>
/// Delivers one outbox row: renders the tenant's templates for the task and the recipient, with a deep link
/// of the recipient's own, and hands it to the channel. A task that is no longer open is not announced.
/// Throws when the channel fails; the dispatcher retries.
/// </summary>
public sealed class NotificationDelivery(
    AppDbContext db, WorkflowCatalog catalog, MessageTemplates templates, DeepLinkTokens links, EmailSender email, SlackClient slack,
    IOptions<AppOptions> app, TimeProvider clock, ILogger<NotificationDelivery> log)
{
    /// <remarks>
    /// A row in doubt (<see cref="NotificationRecord.InDoubtSince"/>: an earlier send began and never recorded its result) may
    /// have reached its channel. Its Slack message is looked for first — before anything else, so one that went out is
    /// recorded (and replaced once its task is settled) rather than skipped — and not posted twice; an email goes again with
    /// the same Message-ID (SMTP cannot be asked).
    /// </remarks>
    public async Task<DeliveryResult> DeliverAsync(NotificationRecord row, CancellationToken cancellationToken)
    {
        if (row is { InDoubtSince: { } since, Channel: NotificationChannels.Slack, Kind: NotificationKinds.TaskCreated or NotificationKinds.Reminder }
            && await FoundAsync(row, since, cancellationToken) is { } posted)
        {
            return new DeliveryResult(true, posted); // it went before the crash: recorded, not posted again
        }

        if (row.Kind == NotificationKinds.SlackResponse)
        {
            await slack.RespondAsync(row.Address, JsonNode.Parse(row.PayloadJson ?? "{}")!.AsObject(), cancellationToken);
            return new DeliveryResult(true);
        }

        var task = await db.Tasks.AsNoTracking().SingleOrDefaultAsync(t => t.ResId == row.ResId, cancellationToken);
        if (row.Kind == NotificationKinds.SlackUpdate)
        {
            return await UpdateSlackMessageAsync(row, task, cancellationToken);
        }

        if (task is null || task.Status != TaskStatuses.Pending)
        {
            return DeliveryResult.Skip($"The task is {task?.Status ?? "gone"}.");
        }

        var person = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.TenantId == row.TenantId && u.UserId == row.RecipientUserId, cancellationToken);
        if (person is null)
        {
            return DeliveryResult.Skip("The recipient is no longer in the directory.");
        }

        if (task.TallyJson is not null && await db.TaskVotes.AnyAsync(v => v.ResId == task.ResId && v.UserId == person.UserId, cancellationToken))
        {
            // An approval being voted on, and this person has voted: nothing left for them to do (a reminder would nag).
            return DeliveryResult.Skip("The recipient has voted on this task.");
        }

        if (app.Value.PublicBaseUrl is not { } baseUrl)
        {
            // Queued while a channel was on, and the app restarted without it: no link can be made, and trying again would not help.
            return DeliveryResult.Skip("App:PublicBaseUrl is not set: the message's link cannot be made.");
        }

        var subject = await SubjectAsync(task, person, baseUrl, row.Channel, row.Kind == NotificationKinds.Reminder, cancellationToken);

        if (row.Channel == NotificationChannels.Email)
        {
            await email.SendAsync(row.Address, person.DisplayName, await templates.EmailAsync(subject, cancellationToken), cancellationToken,
                email.MessageId(row.Id, row.CreatedAt));
            return new DeliveryResult(true);
        }

        // Someone who has voted was skipped above: this message goes to someone who has not.
        var message = await SlackMessageAsync(task, subject, mine: null, cancellationToken);
        return new DeliveryResult(true, await slack.PostMessageAsync(row.Address, message, cancellationToken, row.Id));
    }

    /// <summary>
    /// The message an earlier send of <paramref name="row"/> posted, if it did. Null (post it) also when Slack will never tell:
    /// the app lacks the scopes, or the conversation is too busy to look through. Anything else (Slack down, rate limited)
    /// throws: the row stays in doubt and is looked for again at its next attempt.
    /// </summary>
    private async Task<string?> FoundAsync(NotificationRecord row, DateTime since, CancellationToken cancellationToken)
    {
        try
        {
            return await slack.FindPostedAsync(row.Address, row.Id, since, cancellationToken);
        }
        catch (SlackException ex) when (ex.Error is "missing_scope" or "not_allowed_token_type" or "no_permission" or SlackClient.TooMuchHistory)
        {
            NotificationLog.LookupFailed(log, row.Id, ex);
            return null;
        }
    }

    /// <summary>
    /// A pending task's Slack message for one recipient: the tenant's blocks, the tally of an approval that is being voted on,
    /// and the buttons — which a recipient who has voted (<paramref name="mine"/>) no longer gets (their vote is said instead).
    /// </summary>
    private async Task<SlackMessage> SlackMessageAsync(TaskRecord task, MessageSubject subject, TaskVoteRecord? mine, CancellationToken cancellationToken)
    {
        var definition = await catalog.GetAsync(task.TenantId, task.WorkflowKey, task.WorkflowVersion, cancellationToken);
        var rejectNeedsComment = definition.Node(task.NodeId) is ApprovalNode { RequireCommentOnReject: true };
        var message = await templates.SlackAsync(subject, cancellationToken);
        if (Votes.Describe(task.TallyJson) is not { } tally)
        {
            return SlackMessages.WithActions(message, task, rejectNeedsComment, subject.Link);
        }

        return mine is null
            ? SlackMessages.WithActions(SlackMessages.WithTally(message, tally), task, rejectNeedsComment, subject.Link)
            : SlackMessages.WithTally(message, $"You voted {mine.Decision} via {mine.Channel} at {SlackMessages.When(mine.At)}. {tally}.");
    }

    /// <summary>
    /// Replaces a settled task's Slack message with the outcome, once that message exists; or draws the message of an
    /// approval still being voted on again, with its tally as it is now.
    /// </summary>
    private async Task<DeliveryResult> UpdateSlackMessageAsync(NotificationRecord row, TaskRecord? task, CancellationToken cancellationToken)
    {
        if (task is null || (task.Status == TaskStatuses.Pending && task.TallyJson is null))
        {
            return DeliveryResult.Skip($"The task is {task?.Status ?? "gone"}.");
        }

        var messageId = (long)JsonNode.Parse(row.PayloadJson!)!["message"]!;
        var message = await db.Notifications.AsNoTracking().SingleAsync(n => n.Id == messageId, cancellationToken);
        if (message.Status is NotificationStatuses.Pending or NotificationStatuses.Leased)
        {
            // Still on its way: it is either skipped (the task is settled) or sent with buttons, and then replaced here.
            var after = message.AvailableAt - clock.GetUtcNow().UtcDateTime;
            return DeliveryResult.NotYet("The message is not sent yet.", after > MessageWait ? after : MessageWait);
        }

        if (message.Status != NotificationStatuses.Sent || message.ExternalId is null)
        {
            return DeliveryResult.Skip("The message was never sent.");
        }

        if (task.Status == TaskStatuses.Pending)
        {
            var person = await db.Users.AsNoTracking().SingleOrDefaultAsync(u => u.TenantId == row.TenantId && u.UserId == message.RecipientUserId, cancellationToken);
            if (person is null || app.Value.PublicBaseUrl is not { } baseUrl)
            {
                return DeliveryResult.Skip(person is null ? "The recipient is no longer in the directory." : "App:PublicBaseUrl is not set: the message's link cannot be made.");
            }

            var mine = await db.TaskVotes.AsNoTracking().SingleOrDefaultAsync(v => v.ResId == task.ResId && v.UserId == person.UserId, cancellationToken);
            var subject = await SubjectAsync(task, person, baseUrl, NotificationChannels.Slack, reminder: false, cancellationToken);
            var voting = await SlackMessageAsync(task, subject, mine, cancellationToken);
            await slack.UpdateMessageAsync(message.ExternalId, new JsonObject { ["text"] = voting.Text, ["blocks"] = voting.Blocks.DeepClone() }, cancellationToken);
            return new DeliveryResult(true, message.ExternalId);
        }

        var settled = SlackMessages.Replace(task.Title, SlackMessages.Outcome(task));
        settled.Remove("replace_original");
        await slack.UpdateMessageAsync(message.ExternalId, settled, cancellationToken);
        return new DeliveryResult(true, message.ExternalId);
    }

    /// <summary>What a message about <paramref name="task"/> to <paramref name="person"/> says, with a deep link of their own.</summary>
    private async Task<MessageSubject> SubjectAsync(TaskRecord task, AppUser person, string baseUrl, string channel, bool reminder, CancellationToken cancellationToken)
    {
        var run = await db.Executions.AsNoTracking().SingleAsync(e => e.Id == task.ExecutionId, cancellationToken);
        var expires = task.ExpiresAt ?? clock.GetUtcNow().UtcDateTime + DeepLinkTokens.DefaultLifetime;
        var grant = new DeepLinkGrant(task.ResId, task.TenantId, person.UserId, person.DisplayName, expires,
            channel == NotificationChannels.Slack ? NotificationChannels.Slack : NotificationChannels.Email);
        return new MessageSubject(task, run, person.UserId, person.DisplayName, person.Email, links.Link(baseUrl, grant), reminder);
    }

    private static readonly TimeSpan MessageWait = TimeSpan.FromSeconds(1);
}
