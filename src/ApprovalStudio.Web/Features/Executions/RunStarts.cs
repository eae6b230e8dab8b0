using ApprovalStudio.Web.Infrastructure.Persistence;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>
/// How a run begins, for every way of starting one (a start, a resume-from): the run's row and its first queue item, in
/// one commit, so the worker takes it exactly when it is on disk. The caller then wakes the worker.
/// </summary>
public static class RunStarts
{
    /// <summary>
    /// Commits the new run with the queue item that starts it, in a commit shared with the answers, starts and steps
    /// that arrive meanwhile (<see cref="GroupCommit"/>): on disk when this returns.
    /// </summary>
    public static async Task<ExecutionRecord> StartAsync(GroupCommit commits, ExecutionRecord run, string kind, CancellationToken cancellationToken)
    {
        await commits.RunAsync((db, _) =>
        {
            db.Executions.Add(run);
            db.Queue.Add(new QueueItem { ExecutionId = run.Id, Kind = kind, Status = QueueStatuses.Pending, AvailableAt = run.CreatedAt, CreatedAt = run.CreatedAt });
            return Task.FromResult((true, true));
        }, cancellationToken);
        return run;
    }

    public static string NewId() => Guid.CreateVersion7().ToString("N");
}
