using ApprovalStudio.Web.Infrastructure.Idempotency;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Telemetry;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>
/// How a run begins, for every way of starting one (a start, a resume-from): the run's row and its first queue item, in
/// one commit, so the worker takes it exactly when it is on disk. The caller then wakes the worker.
/// </summary>
public static class RunStarts
{
    /// <summary>
    /// Commits the new run with the queue item that starts it, in a commit shared with the answers, starts and steps
    /// that arrive meanwhile (<see cref="GroupCommit"/>): on disk when this returns. With the request's
    /// <c>Idempotency-Key</c> (<paramref name="key"/>), the same commit writes the run's id on the key; null when the request
    /// lost its key to a retry meanwhile, and then nothing was committed.
    /// </summary>
    public static async Task<ExecutionRecord?> StartAsync(
        GroupCommit commits, ExecutionRecord run, string kind, CancellationToken cancellationToken, IdempotencyHold? key = null)
    {
        // The request's trace, continued by the run's first step. Read here: the group commit may run the unit on another flow.
        var traceParent = AppTelemetry.TraceParent();
        return await commits.RunAsync(async (db, ct) =>
        {
            if (key is not null && !await key.RecordStartAsync(db, run.Id, ct))
            {
                return ((ExecutionRecord?)null, false);
            }

            // Plain statements in the writer's turn (kept prepared: AppDbContext.ExecuteAsync), not EF's SaveChanges.
            await db.ExecuteAsync(InsertRunSql, ct, run.Id, run.TenantId, run.WorkflowKey, run.WorkflowVersion, run.Status, run.InputJson, run.StateJson,
                run.OutputJson, run.Error, run.ErrorNodeId, run.CreatedBy, run.CreatedAt, run.UpdatedAt, run.CompletedAt, run.Revision, run.LastSequence,
                run.ResumedFromExecutionId, run.ResumedFromNodeId);
            await db.ExecuteAsync(InsertQueueSql, ct, run.Id, kind, QueueStatuses.Pending, run.CreatedAt, run.CreatedAt, traceParent);
            return ((ExecutionRecord?)run, true);
        }, cancellationToken);
    }

    // Every column of ExecutionRecord; RunStartsTests reads the row back through EF.
    private const string InsertRunSql = """
        INSERT INTO "Executions" ("Id", "TenantId", "WorkflowKey", "WorkflowVersion", "Status", "InputJson", "StateJson", "OutputJson", "Error",
            "ErrorNodeId", "CreatedBy", "CreatedAt", "UpdatedAt", "CompletedAt", "Revision", "LastSequence", "ResumedFromExecutionId", "ResumedFromNodeId")
        VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9, @p10, @p11, @p12, @p13, @p14, @p15, @p16, @p17)
        """;

    private const string InsertQueueSql = """
        INSERT INTO "Queue" ("ExecutionId", "Kind", "Status", "Attempts", "AvailableAt", "CreatedAt", "TraceParent") VALUES (@p0, @p1, @p2, 0, @p3, @p4, @p5)
        """;

    public static string NewId() => Guid.CreateVersion7().ToString("N");
}
