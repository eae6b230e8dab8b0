using ApprovalStudio.Web.Infrastructure.Persistence;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>
/// How a run begins, for every way of starting one (a start, a resume-from): the run's row and its first queue item, in
/// the caller's unit of work, so the worker takes it exactly when it commits. The caller saves and then wakes the worker.
/// </summary>
public static class RunStarts
{
    public static ExecutionRecord Add(AppDbContext db, ExecutionRecord run, string kind)
    {
        db.Executions.Add(run);
        db.Queue.Add(new QueueItem { ExecutionId = run.Id, Kind = kind, Status = QueueStatuses.Pending, AvailableAt = run.CreatedAt, CreatedAt = run.CreatedAt });
        return run;
    }

    public static string NewId() => Guid.CreateVersion7().ToString("N");
}
