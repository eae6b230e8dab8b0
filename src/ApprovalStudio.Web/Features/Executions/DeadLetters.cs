using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Telemetry;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>A queue item the worker gave up on, as the Operations page lists it.</summary>
public sealed record DeadLetter(long Id, string ExecutionId, string WorkflowKey, string Kind, int Attempts, string? LastError, DateTime CreatedAt, DateTime? GaveUpAt);

/// <summary>What became of a retry, and in words why when it was not done.</summary>
public sealed record RetryOutcome(bool Retried, string Message);

/// <summary>
/// Dead-lettered queue items of a tenant, and retrying one. The worker dead-letters an item after its last attempt and fails
/// the run with the error (cancelling its open tasks). A retry undoes exactly that, in one commit: the run is running again
/// (with a <c>retried</c> event), the tasks the failure cancelled are open again (and announced again), and the item is
/// queued with its attempts reset. It is refused when the run moved on since: it failed or ended for another reason, or
/// work queued after the item was skipped because the run had failed (resume-from a node is the way on then).
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
         select new DeadLetter(q.Id, q.ExecutionId, e.WorkflowKey, q.Kind, q.Attempts, q.LastError, q.CreatedAt, q.CompletedAt))
        .Take(take)
        .ToListAsync(cancellationToken);

    public async Task<RetryOutcome> RetryAsync(string tenantId, long itemId, string actor, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        await using var transaction = await db.BeginWriteAsync(cancellationToken);
        var item = await db.Queue.SingleOrDefaultAsync(q => q.Id == itemId, cancellationToken);
        var run = item is null ? null : await db.Executions.SingleOrDefaultAsync(e => e.Id == item.ExecutionId && e.TenantId == tenantId, cancellationToken);
        if (item is null || run is null)
        {
            return new RetryOutcome(false, "That queue item was not found in your tenant.");
        }

        if (item.Status != QueueStatuses.DeadLettered)
        {
            return new RetryOutcome(false, $"That item is {item.Status} now: it was retried already.");
        }

        if (await db.Queue.AnyAsync(q => q.ExecutionId == item.ExecutionId && q.Id > item.Id, cancellationToken))
        {
            return new RetryOutcome(false, "Work queued after this item was skipped because the run had failed; resume the run from a node instead.");
        }

        var failedByIt = run.Status == ExecutionStatuses.Failed && run.Error?.StartsWith(GaveUpPrefix, StringComparison.Ordinal) == true;
        if (ExecutionStatuses.IsTerminal(run.Status) && !failedByIt)
        {
            return new RetryOutcome(false, $"The run is {run.Status} for another reason; there is nothing to retry.");
        }

        ExecutionEventRecord? retried = null;
        List<TaskRecord> reopened = [];
        if (failedByIt)
        {
            run.Status = ExecutionStatuses.Running;
            run.Error = null;
            run.ErrorNodeId = null;
            run.CompletedAt = null;
            run.UpdatedAt = now;
            run.Revision++;
            retried = new ExecutionEventRecord
            {
                ExecutionId = run.Id, Sequence = ++run.LastSequence, TenantId = run.TenantId, Type = ExecutionEventTypes.Retried,
                Status = ExecutionStatuses.Running, At = now,
                DataJson = new JsonObject { ["queueItem"] = item.Id, ["by"] = actor }.ToJsonString(),
            };
            db.ExecutionEvents.Add(retried);

            // A run is failed only by this dead letter here, so every task it has cancelled was cancelled by it.
            reopened = await db.Tasks.Include(t => t.Assignees)
                .Where(t => t.ExecutionId == run.Id && t.Status == TaskStatuses.Cancelled).ToListAsync(cancellationToken);
            foreach (var task in reopened)
            {
                task.Status = TaskStatuses.Pending;
            }
        }

        item.Status = QueueStatuses.Pending;
        item.Attempts = 0;
        item.AvailableAt = now;
        item.CompletedAt = null;
        item.LeaseOwner = null;
        item.LeasedUntil = null;
        item.TraceParent = AppTelemetry.TraceParent();
        await db.SaveChangesAsync(cancellationToken);
        await outbox.CreatedAsync(db, reopened, now, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        ExecutionLog.RetriedDeadLetter(log, item.Id, run.Id, actor, reopened.Count);

        signal.Notify();
        if (retried is not null)
        {
            await notifier.ExecutionEventsAsync([retried]);
        }

        foreach (var task in reopened)
        {
            await notifier.TaskChangedAsync(task, created: true);
        }

        return new RetryOutcome(true, reopened.Count == 0
            ? "Queued again: the worker takes it now."
            : $"Queued again, and {reopened.Count} task(s) the failure had cancelled are open again.");
    }
}
