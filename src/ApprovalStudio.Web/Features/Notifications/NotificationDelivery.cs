using System.Text.Json.Nodes;
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
    IOptions<AppOptions> app, TimeProvider clock)
{
    public async Task<DeliveryResult> DeliverAsync(NotificationRecord row, CancellationToken cancellationToken)
    {
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

        if (app.Value.PublicBaseUrl is not { } baseUrl)
        {
            // Queued while a channel was on, and the app restarted without it: no link can be made, and trying again would not help.
            return DeliveryResult.Skip("App:PublicBaseUrl is not set: the message's link cannot be made.");
        }

        var run = await db.Executions.AsNoTracking().SingleAsync(e => e.Id == task.ExecutionId, cancellationToken);
        var expires = task.ExpiresAt ?? clock.GetUtcNow().UtcDateTime + DeepLinkTokens.DefaultLifetime;
        var grant = new DeepLinkGrant(task.ResId, task.TenantId, person.UserId, person.DisplayName, expires,
            row.Channel == NotificationChannels.Slack ? NotificationChannels.Slack : NotificationChannels.Email);
        var subject = new MessageSubject(task, run, person.UserId, person.DisplayName, person.Email, links.Link(baseUrl, grant),
            row.Kind == NotificationKinds.Reminder);

        if (row.Channel == NotificationChannels.Email)
        {
            await email.SendAsync(row.Address, person.DisplayName, await templates.EmailAsync(subject, cancellationToken), cancellationToken,
                email.MessageId(row.Id, row.CreatedAt));
            return new DeliveryResult(true);
        }

        var definition = await catalog.GetAsync(task.TenantId, task.WorkflowKey, task.WorkflowVersion, cancellationToken);
        var rejectNeedsComment = definition.Node(task.NodeId) is ApprovalNode { RequireCommentOnReject: true };
        var message = SlackMessages.WithActions(await templates.SlackAsync(subject, cancellationToken), task, rejectNeedsComment, subject.Link);
        return new DeliveryResult(true, await slack.PostMessageAsync(row.Address, message, cancellationToken));
    }

    /// <summary>Replaces a settled task's Slack message with the outcome, once that message exists.</summary>
    private async Task<DeliveryResult> UpdateSlackMessageAsync(NotificationRecord row, TaskRecord? task, CancellationToken cancellationToken)
    {
        if (task is null || task.Status == TaskStatuses.Pending)
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

        var settled = SlackMessages.Replace(task.Title, SlackMessages.Outcome(task));
        settled.Remove("replace_original");
        await slack.UpdateMessageAsync(message.ExternalId, settled, cancellationToken);
        return new DeliveryResult(true, message.ExternalId);
    }

    private static readonly TimeSpan MessageWait = TimeSpan.FromSeconds(1);
}
