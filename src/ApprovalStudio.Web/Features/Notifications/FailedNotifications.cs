using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.Notifications;

/// <summary>An outbox row the dispatcher gave up on, as the Operations page lists it (never its address).</summary>
public sealed record FailedNotification(
    long Id, string ExecutionId, string Kind, string Channel, string? RecipientUserId, int Attempts, string? LastError, DateTime CreatedAt);

/// <summary>
/// Notifications of a tenant that failed every attempt, and sending one again: the row goes back to pending with its attempts
/// reset, and the dispatcher takes it at once. Delivery checks the task again, so a message about a task answered since
/// is skipped, not sent.
/// </summary>
public sealed class FailedNotifications(AppDbContext db, NotificationSignal signal, TimeProvider clock, ILogger<FailedNotifications> log)
{
    public Task<List<FailedNotification>> ListAsync(string tenantId, int take, CancellationToken cancellationToken) =>
        db.Notifications.AsNoTracking()
            .Where(n => n.TenantId == tenantId && n.Status == NotificationStatuses.Failed)
            .OrderByDescending(n => n.Id)
            .Select(n => new FailedNotification(n.Id, n.ExecutionId, n.Kind, n.Channel, n.RecipientUserId, n.Attempts, n.LastError, n.CreatedAt))
            .Take(take)
            .ToListAsync(cancellationToken);

    /// <returns>False when the row is not a failed notification of the tenant (resent already, or not theirs).</returns>
    public async Task<bool> ResendAsync(string tenantId, long id, string actor, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var resent = await db.WriteAsync(ct => db.Notifications
            .Where(n => n.Id == id && n.TenantId == tenantId && n.Status == NotificationStatuses.Failed)
            .ExecuteUpdateAsync(s => s
                .SetProperty(n => n.Status, NotificationStatuses.Pending)
                .SetProperty(n => n.Attempts, 0)
                .SetProperty(n => n.AvailableAt, now), ct), cancellationToken);
        if (resent == 1)
        {
            NotificationLog.Resent(log, id, actor);
            signal.Notify();
        }

        return resent == 1;
    }
}
