using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Telemetry;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>A queue item the worker gave up on, as the Operations page lists it; <paramref name="FailedNodeId"/>: where it failed, when known.</summary>
public sealed record DeadLetter(
    long Id, string ExecutionId, string WorkflowKey, string Kind, string? FailedNodeId, int Attempts, string? LastError, DateTime CreatedAt, DateTime? GaveUpAt);

/// <summary>What became of a retry, and in words why when it was not done.</summary>
public sealed record RetryOutcome(bool Retried, string Message);

/// <summary>
/// Dead-lettered queue items of a tenant, and retrying one. The worker dead-letters an item after its last attempt and fails
/// the run with the error (cancelling its open tasks), in an event that names the item. A retry undoes exactly that, in one
/// commit: the run is running again (with a <c>retried</c> event), the tasks the failure cancelled are open again (their
/// unsent messages dropped, and announced afresh), and the item is queued with its attempts reset. It is refused, changing
/// nothing, unless the run's last event is the failure this item caused and nothing happened to the run since: no answer or
/// expiry after the item was queued (the audit keeps them for good), no later queue item, no run resumed from it.
/// </summary>
public sealed class DeadLetters(AppDbContext db, ITaskOutbox outbox, ExecutionNotifier notifier, QueueSignal signal, TimeProvider clock, ILogger<DeadLetters> log)
{
    /// <summary>The start of the error a dead letter gives its run (<see cref="ExecutionWorker"/>).</summary>
    public const string GaveUpPrefix = "The worker gave up after ";

    public Task<List<DeadLetter>> ListAsync(string tenantId, int take, CancellationToken cancellationToken) =>
        (from q in db.Queue.AsNoTracking()
         join e in db.Executions.AsNoTracking() on q.ExecutionId equals e.Id
         where q.Status == QueueStatuses.DeadLettered && e.TenantId == tenantId
         orderby q.Id descending
         select new DeadLetter(q.Id, q.ExecutionId, e.WorkflowKey, q.Kind, q.FailedNodeId, q.Attempts, q.LastError, q.CreatedAt, q.CompletedAt))
        .Take(take)
        .ToListAsync(cancellationToken);

    public async Task<RetryOutcome> RetryAsync(string tenantId, long itemId, string actor, CancellationToken cancellationToken)
    {
        try
        {
            return await TryRetryAsync(tenantId, itemId, actor, cancellationToken);
        }
        catch (DbUpdateException)
        {
            // Another retry (or a step) changed the run between our read and our write: nothing of this one was committed.
            return new RetryOutcome(false, "The run changed while it was being retried; refresh and look again.");
        }
    }

    private async Task<RetryOutcome> TryRetryAsync(string tenantId, long itemId, string actor, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        await using var transaction = await db.BeginWriteAsync(cancellationToken);
        var item = await db.Queue.AsNoTracking().SingleOrDefaultAsync(q => q.Id == itemId, cancellationToken);
        var run = item is null ? null : await db.Executions.SingleOrDefaultAsync(e => e.Id == item.ExecutionId && e.TenantId == tenantId, cancellationToken);
        if (item is null || run is null)
        {
            return new RetryOutcome(false, "That queue item was not found in your tenant.");
        }

        if (item.Status != QueueStatuses.DeadLettered)
        {
            return new RetryOutcome(false, $"That item is {item.Status} now: it was retried already.");
        }

        if (await RefusalAsync(item, run, cancellationToken) is { } refusal)
        {
            return new RetryOutcome(false, refusal);
        }

        // Claimed first, guarded: of two retries at once, one takes it (on PostgreSQL the other waits for this row's lock,
        // then finds it taken); and a dead-lettered item is not the worker's until this commits.
        var claimed = await db.Queue.Where(q => q.Id == item.Id && q.Status == QueueStatuses.DeadLettered).ExecuteUpdateAsync(s => s
            .SetProperty(q => q.Status, QueueStatuses.Pending)
            .SetProperty(q => q.Attempts, 0)
            .SetProperty(q => q.AvailableAt, now)
            .SetProperty(q => q.CreatedAt, now) // its latency counts from the retry
            .SetProperty(q => q.CompletedAt, (DateTime?)null)
            .SetProperty(q => q.LeaseOwner, (string?)null)
            .SetProperty(q => q.LeasedUntil, (DateTime?)null)
            .SetProperty(q => q.TraceParent, AppTelemetry.TraceParent()), cancellationToken);
        if (claimed != 1)
        {
            return new RetryOutcome(false, "That item was retried already.");
        }

        db.Audit.Add(OperatorRecord(run, item, RetriedAction, actor, now));
        run.Status = ExecutionStatuses.Running;
        run.Error = null;
        run.ErrorNodeId = null;
        run.CompletedAt = null;
        run.UpdatedAt = now;
        run.Revision++;
        var retried = new ExecutionEventRecord
        {
            ExecutionId = run.Id, Sequence = ++run.LastSequence, TenantId = run.TenantId, Type = ExecutionEventTypes.Retried,
            Status = ExecutionStatuses.Running, At = now,
            DataJson = new JsonObject { ["queueItem"] = item.Id, ["by"] = actor }.ToJsonString(),
        };
        db.ExecutionEvents.Add(retried);

        // The run failed by this item alone (checked above), so every task it has cancelled was cancelled by that failure.
        var reopened = await db.Tasks.Include(t => t.Assignees)
            .Where(t => t.ExecutionId == run.Id && t.Status == TaskStatuses.Cancelled).ToListAsync(cancellationToken);
        foreach (var task in reopened)
        {
            task.Status = TaskStatuses.Pending;
        }

        // Their messages not sent yet (reminders, or a first message still retrying) would go out beside the new ones.
        var resIds = reopened.Select(t => t.ResId).ToList();
        await db.Notifications.Where(n => resIds.Contains(n.ResId) && n.Status == NotificationStatuses.Pending)
            .ExecuteUpdateAsync(s => s.SetProperty(n => n.Status, NotificationStatuses.Skipped)
                .SetProperty(n => n.LastError, "Superseded: the task was reopened by a retry and announced again."), cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        await outbox.CreatedAsync(db, reopened, now, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        ExecutionLog.RetriedDeadLetter(log, item.Id, run.Id, actor, reopened.Count);

        signal.Notify();
        await notifier.ExecutionEventsAsync([retried]);
        foreach (var task in reopened)
        {
            await notifier.TaskChangedAsync(task, created: true);
        }

        return new RetryOutcome(true, reopened.Count == 0
            ? "Queued again: the worker takes it now."
            : $"Queued again, and {reopened.Count} task(s) the failure had cancelled are open again.");
    }

    /// <summary>
    /// Sets a dead letter aside without retrying it: it leaves the list and the dead-letter gauge, and stays in the queue
    /// table (as <see cref="QueueStatuses.Dismissed"/>), with an audit record of who did it. The run stays as it is.
    /// </summary>
    public async Task<bool> DismissAsync(string tenantId, long itemId, string actor, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        await using var transaction = await db.BeginWriteAsync(cancellationToken);
        var found = await (from q in db.Queue.AsNoTracking()
                           join e in db.Executions.AsNoTracking() on q.ExecutionId equals e.Id
                           where q.Id == itemId && q.Status == QueueStatuses.DeadLettered && e.TenantId == tenantId
                           select new { Item = q, Run = e }).SingleOrDefaultAsync(cancellationToken);
        if (found is null)
        {
            return false;
        }

        var dismissed = await db.Queue.Where(q => q.Id == itemId && q.Status == QueueStatuses.DeadLettered).ExecuteUpdateAsync(s => s
            .SetProperty(q => q.Status, QueueStatuses.Dismissed)
            .SetProperty(q => q.CompletedAt, now), cancellationToken);
        if (dismissed != 1)
        {
            return false;
        }

        db.Audit.Add(OperatorRecord(found.Run, found.Item, DismissedAction, actor, now));
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        ExecutionLog.DismissedDeadLetter(log, itemId, actor);
        return true;
    }

    /// <summary>The audit actions of an operator's hand on a dead letter (who retried or dismissed which step, and when).</summary>
    public const string RetriedAction = "DeadLetterRetried";

    public const string DismissedAction = "DeadLetterDismissed";

    private static AuditRecord OperatorRecord(ExecutionRecord run, QueueItem item, string action, string actor, DateTime now) => new()
    {
        TenantId = run.TenantId, ExecutionId = run.Id, ResId = item.ResId ?? string.Empty, NodeId = run.ErrorNodeId ?? string.Empty,
        Action = action, Actor = actor, Channel = "operations", Grant = "admin", At = now,
        PayloadJson = new JsonObject { ["queueItem"] = item.Id, ["kind"] = item.Kind, ["lastError"] = item.LastError }.ToJsonString(),
    };

    /// <summary>Why the run cannot simply go on from <paramref name="item"/>, or null.</summary>
    private async Task<string?> RefusalAsync(QueueItem item, ExecutionRecord run, CancellationToken cancellationToken)
    {
        var last = await db.ExecutionEvents.AsNoTracking().Where(e => e.ExecutionId == run.Id).OrderByDescending(e => e.Sequence)
            .FirstOrDefaultAsync(cancellationToken);
        var data = last?.DataJson is null ? null : JsonNode.Parse(last.DataJson);
        var failedByIt = run.Status == ExecutionStatuses.Failed && last?.Type == ExecutionEventTypes.Failed
            && (bool?)data?["deadLettered"] == true && (long?)data?["queueItem"] == item.Id;
        if (!failedByIt)
        {
            return $"The run is {run.Status}, and not because of this step alone; retrying it would not put the run back as it was.";
        }

        if (await db.Executions.AnyAsync(e => e.ResumedFromExecutionId == run.Id, cancellationToken))
        {
            return "The run was resumed from a node since: that run goes on instead of this one.";
        }

        // An answer or an expiry after the item was queued had its own step, skipped because the run had failed (its queue
        // row may be swept by retention since; its audit record is kept).
        if (await db.Queue.AnyAsync(q => q.ExecutionId == item.ExecutionId && q.Id > item.Id, cancellationToken)
            || await db.Audit.AnyAsync(a => a.ExecutionId == run.Id && a.At > item.CreatedAt
                && a.Action != RetriedAction && a.Action != DismissedAction, cancellationToken)) // an operator's hand is not the run's work
        {
            return "Work that came after this step was skipped because the run had failed; resume the run from a node instead.";
        }

        return null;
    }
}
