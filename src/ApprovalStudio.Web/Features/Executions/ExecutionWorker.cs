using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Faults;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Telemetry;
using ApprovalStudio.Workflows.Execution;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>
/// Drains the durable queue: expires overdue tasks, leases items (oldest first, one at a time per
/// run, so a run's steps keep their order), processes each in a fresh scope, retries failures with
/// backoff, and dead-letters an item that keeps failing, which fails its run with the last error.
/// </summary>
public sealed class ExecutionWorker(
    IServiceScopeFactory scopes, QueueSignal signal, ExecutionNotifier notifier, ITaskOutbox outbox, IOptions<WorkerOptions> options, AppTelemetry telemetry,
    FaultPoints faults, TimeProvider clock, ILogger<ExecutionWorker> log)
    : BackgroundService
{
    private readonly string _owner = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.Enabled)
        {
            return;
        }

        await signal.RunLoopAsync(async token =>
        {
            await ExpireDueTasksAsync(token);
            var leased = await LeaseAsync(settings, token);
            await Parallel.ForEachAsync(leased, new ParallelOptions { MaxDegreeOfParallelism = settings.Concurrency, CancellationToken = token },
                async (id, itemToken) => await RunOneAsync(id, settings, itemToken));
            return leased.Count > 0;
        }, settings.PollInterval, ex => ExecutionLog.LoopFailed(log, ex), stoppingToken);
    }

    private async Task<List<long>> LeaseAsync(WorkerOptions settings, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var now = clock.GetUtcNow().UtcDateTime;
        var candidates = await db.Queue.AsNoTracking()
            .Where(Leases.Free<QueueItem>(now))
            .Where(q => !db.Queue.Any(o => o.ExecutionId == q.ExecutionId && o.Id < q.Id && (o.Status == QueueStatuses.Pending || o.Status == QueueStatuses.Leased)))
            .OrderBy(q => q.Id)
            .Select(q => q.Id)
            .Take(settings.BatchSize)
            .ToListAsync(cancellationToken);
        if (candidates.Count > 0)
        {
            faults.Hit(FaultPoints.WorkerBeforeLease);
        }

        return await Leases.TakeAsync<QueueItem>(db, candidates, _owner, now, settings.LeaseDuration, cancellationToken);
    }

    private async Task RunOneAsync(long id, WorkerOptions settings, CancellationToken cancellationToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<ExecutionProcessor>().ProcessAsync(id, _owner, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: the lease runs out and another start picks the item up again.
        }
        catch (DbUpdateConcurrencyException)
        {
            await ReleaseAsync(id, countAttempt: false, null, settings, cancellationToken);
        }
        catch (Exception ex)
        {
            await ReleaseAsync(id, countAttempt: true, ex, settings, cancellationToken);
        }
    }

    private async Task ReleaseAsync(long id, bool countAttempt, Exception? error, WorkerOptions settings, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var item = await db.Queue.SingleAsync(q => q.Id == id, cancellationToken);
        if (item.LeaseOwner != _owner || item.Status != QueueStatuses.Leased)
        {
            return;
        }

        var now = clock.GetUtcNow().UtcDateTime;
        item.LeaseOwner = null;
        item.LeasedUntil = null;
        if (!countAttempt)
        {
            ExecutionLog.ConcurrencyRetry(log, id, item.ExecutionId);
            item.Status = QueueStatuses.Pending;
            item.AvailableAt = now;
            await db.SaveChangesAsync(cancellationToken);
            signal.Notify();
            return;
        }

        item.Attempts++;
        item.LastError = Describe(error!);
        if (item.Attempts < settings.MaxAttempts)
        {
            item.Status = QueueStatuses.Pending;
            item.AvailableAt = now + settings.Backoff(item.Attempts);
            ExecutionLog.Retrying(log, id, item.ExecutionId, item.Attempts, item.AvailableAt, error!);
            await db.SaveChangesAsync(cancellationToken);
            telemetry.Continued(item.Kind, "retried", null);
            return;
        }

        ExecutionLog.DeadLettered(log, id, item.ExecutionId, item.Attempts, error!);
        // Where it failed: the node the error came out of, or else the node the step continues (an answer's or expiry's task).
        var node = error is NodeStepException inNode ? inNode.NodeId
            : item.ResId is { } resId ? await db.Tasks.AsNoTracking().Where(t => t.ResId == resId).Select(t => t.NodeId).FirstOrDefaultAsync(cancellationToken)
            : null;
        var message = $"{DeadLetters.GaveUpPrefix}{item.Attempts} attempts: {item.LastError}";
        message = message.Length > 4000 ? message[..4000] : message;
        await using var transaction = await db.BeginWriteAsync(cancellationToken);
        item.Status = QueueStatuses.DeadLettered;
        item.CompletedAt = now;
        item.FailedNodeId = node;
        var execution = await db.Executions.SingleAsync(e => e.Id == item.ExecutionId, cancellationToken);
        ExecutionEventRecord? failed = null;
        if (!ExecutionStatuses.IsTerminal(execution.Status))
        {
            execution.Status = ExecutionStatuses.Failed;
            execution.Error = message;
            execution.ErrorNodeId = node;
            execution.CompletedAt = now;
            execution.UpdatedAt = now;
            execution.Revision++;
            failed = new ExecutionEventRecord
            {
                ExecutionId = execution.Id, Sequence = ++execution.LastSequence, TenantId = execution.TenantId,
                Type = ExecutionEventTypes.Failed, Status = ExecutionStatuses.Failed, At = now, NodeId = node,
                DataJson = new JsonObject { ["error"] = message, ["deadLettered"] = true, ["queueItem"] = item.Id }.ToJsonString(),
            };
            db.ExecutionEvents.Add(failed);
        }

        await db.SaveChangesAsync(cancellationToken);
        var cancelled = failed is null ? [] : await ExecutionProcessor.CancelPendingTasksAsync(db, outbox, item.ExecutionId, now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        telemetry.Continued(item.Kind, "dead_lettered", now - item.CreatedAt);
        if (failed is not null)
        {
            await notifier.ExecutionEventsAsync([failed]);
        }

        foreach (var task in cancelled)
        {
            await notifier.TaskChangedAsync(task, created: false);
        }
    }

    /// <summary>Tasks past their deadline: marked expired (guarded, so a racing resume wins or loses cleanly) and queued for their policy.</summary>
    private async Task ExpireDueTasksAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var now = clock.GetUtcNow().UtcDateTime;
        var due = await db.Tasks.AsNoTracking()
            .Where(t => t.Status == TaskStatuses.Pending && t.ExpiresAt != null && t.ExpiresAt <= now)
            .OrderBy(t => t.ExpiresAt)
            .Select(t => new { t.ResId, t.ExecutionId, t.TenantId, t.NodeId, t.ExpiresAt })
            .Take(100)
            .ToListAsync(cancellationToken);
        foreach (var task in due)
        {
            await using var transaction = await db.BeginWriteAsync(cancellationToken);
            var expired = await db.Tasks.Where(t => t.ResId == task.ResId && t.Status == TaskStatuses.Pending)
                .ExecuteUpdateAsync(s => s.SetProperty(t => t.Status, TaskStatuses.Expired), cancellationToken);
            if (expired != 1)
            {
                continue;
            }

            await outbox.SettledAsync(db, [task.ResId], now, cancellationToken);
            db.Queue.Add(new QueueItem
            {
                ExecutionId = task.ExecutionId, Kind = QueueKinds.Expire, ResId = task.ResId, Status = QueueStatuses.Pending,
                AvailableAt = now, CreatedAt = now,
            });
            db.Audit.Add(new AuditRecord
            {
                TenantId = task.TenantId, ExecutionId = task.ExecutionId, ResId = task.ResId, NodeId = task.NodeId,
                Action = "Expired", Actor = "system", Channel = "system", At = now,
                PayloadJson = $"{{\"expiredAt\":\"{task.ExpiresAt:O}\"}}",
            });
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            db.ChangeTracker.Clear();
            ExecutionLog.TaskExpired(log, task.ExecutionId, task.NodeId);
            var expiredTask = await db.Tasks.AsNoTracking().Include(t => t.Assignees).SingleAsync(t => t.ResId == task.ResId, cancellationToken);
            await notifier.TaskChangedAsync(expiredTask, created: false);
        }
    }

    private static string Describe(Exception error)
    {
        var text = $"{error.GetType().Name}: {error.Message}";
        return text.Length > 4000 ? text[..4000] : text;
    }
}
