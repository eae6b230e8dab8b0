using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.People;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.Notifications;

/// <summary>
/// Decides who hears of a new task, and through what: each assignee as the directory resolves them (named
/// users, and the members of named groups), once per person, by email when email is on and the person has an
/// address, and by Slack when Slack is on and the person has a slackUserId; plus a reminder before the
/// deadline. Adds the outbox rows to the step's unit of work, so they commit with the task or not at all.
/// </summary>
public sealed class NotificationPlanner(IOptions<SmtpOptions> smtp, IOptions<SlackOptions> slack, IOptions<NotificationOptions> options) : ITaskOutbox
{
    private static readonly string[] PeopleKinds = ["Approval", "UserForm", "Review"];

    public async Task CreatedAsync(AppDbContext db, IReadOnlyList<TaskRecord> created, DateTime now, CancellationToken cancellationToken)
    {
        var email = smtp.Value.Enabled;
        var slackOn = slack.Value.Sends;
        if (!email && !slackOn)
        {
            return;
        }

        foreach (var task in created.Where(t => PeopleKinds.Contains(t.Kind)))
        {
            var reminderAt = task.ExpiresAt is { } expires && options.Value.ReminderBefore > TimeSpan.Zero ? expires - options.Value.ReminderBefore : (DateTime?)null;
            foreach (var person in await RecipientsAsync(db, task, cancellationToken))
            {
                if (email && !string.IsNullOrWhiteSpace(person.Email))
                {
                    Add(db, task, person, NotificationChannels.Email, person.Email, now, reminderAt);
                }

                if (slackOn && !string.IsNullOrWhiteSpace(person.SlackUserId))
                {
                    Add(db, task, person, NotificationChannels.Slack, person.SlackUserId, now, reminderAt);
                }
            }
        }
    }

    private static void Add(AppDbContext db, TaskRecord task, AppUser person, string channel, string address, DateTime now, DateTime? reminderAt)
    {
        db.Notifications.Add(Row(task, person, channel, address, NotificationKinds.TaskCreated, now, now));
        if (reminderAt > now)
        {
            db.Notifications.Add(Row(task, person, channel, address, NotificationKinds.Reminder, reminderAt.Value, now));
        }
    }

    private static NotificationRecord Row(TaskRecord task, AppUser person, string channel, string address, string kind, DateTime at, DateTime now) => new()
    {
        TenantId = task.TenantId, ExecutionId = task.ExecutionId, ResId = task.ResId, Kind = kind, Channel = channel,
        RecipientUserId = person.UserId, Address = address, Status = NotificationStatuses.Pending, AvailableAt = at, CreatedAt = now,
    };

    /// <summary>
    /// The tasks were settled (answered, expired, cancelled): every Slack message about them is to be replaced by the
    /// outcome, so that nobody presses a stale button — the ones already sent, and the ones still on their way (an update
    /// for those waits until the message is sent, or is dropped when it never is). <paramref name="answeredOn"/>: the
    /// message (<c>channel/ts</c>) the answer was given on, which its channel replaces itself. Call inside the
    /// transaction that settles the tasks.
    /// </summary>
    public Task SettledAsync(
        AppDbContext db, IReadOnlyCollection<string> resIds, DateTime now, CancellationToken cancellationToken, string? answeredOn = null) =>
        UpdateSlackMessagesAsync(db, resIds, now, cancellationToken, answeredOn);

    /// <summary>
    /// A vote left the approval open: its Slack messages are to show the new tally (each is drawn again from the task as it
    /// is when the update goes out, so updates that race end on the latest tally). Call inside the vote's transaction.
    /// </summary>
    public Task TallyChangedAsync(AppDbContext db, string resId, DateTime now, CancellationToken cancellationToken, string? answeredOn = null) =>
        UpdateSlackMessagesAsync(db, [resId], now, cancellationToken, answeredOn);

    private async Task UpdateSlackMessagesAsync(
        AppDbContext db, IReadOnlyCollection<string> resIds, DateTime now, CancellationToken cancellationToken, string? answeredOn)
    {
        // Without Slack there is no message to replace (and no query on every answer's hot path).
        if (resIds.Count == 0 || !slack.Value.Sends)
        {
            return;
        }

        // A pending row that is due may be leased and past its own "is the task still open?" check before this commits.
        var mayBeOnItsWay = now + InFlightMargin;
        var messages = await db.Notifications.AsNoTracking()
            .Where(n => resIds.Contains(n.ResId) && n.Channel == NotificationChannels.Slack
                && (n.Kind == NotificationKinds.TaskCreated || n.Kind == NotificationKinds.Reminder)
                && (n.Status == NotificationStatuses.Sent || n.Status == NotificationStatuses.Leased
                    || (n.Status == NotificationStatuses.Pending && n.AvailableAt <= mayBeOnItsWay)))
            .ToListAsync(cancellationToken);
        foreach (var message in messages.Where(m => answeredOn is null || m.ExternalId != answeredOn))
        {
            db.Notifications.Add(new NotificationRecord
            {
                TenantId = message.TenantId, ExecutionId = message.ExecutionId, ResId = message.ResId, Kind = NotificationKinds.SlackUpdate,
                Channel = NotificationChannels.Slack, RecipientUserId = message.RecipientUserId, Address = message.Address,
                PayloadJson = new JsonObject { ["message"] = message.Id }.ToJsonString(),
                Status = NotificationStatuses.Pending, AvailableAt = now, CreatedAt = now,
            });
        }
    }

    private static readonly TimeSpan InFlightMargin = TimeSpan.FromMinutes(1);

    /// <summary>The task's assignees as people of the directory, each once; names the directory does not know are skipped.</summary>
    private static Task<List<AppUser>> RecipientsAsync(AppDbContext db, TaskRecord task, CancellationToken cancellationToken) =>
        PeopleDirectory.AssignedAsync(db, task.TenantId,
            [.. task.Assignees.Where(a => a.Kind == AssigneeKinds.User).Select(a => a.Value)],
            [.. task.Assignees.Where(a => a.Kind == AssigneeKinds.Group).Select(a => a.Value)], cancellationToken);
}
