using ApprovalStudio.Web.Infrastructure.Persistence;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>
/// A step's writes (and an answer's event) as plain statements in the writer's turn (<see cref="AppDbContext.ExecuteAsync"/>, kept prepared), not
/// EF's change tracking: the run's row, its queue item, its node runs and its events. A perf profile of the starts phase
/// had the step's SaveChanges at 13 % of the app's CPU. The tasks a step creates (with their assignees) and their outbox
/// rows still go through EF.
/// </summary>
internal static class StepRows
{
    /// <summary>Writes the run's row as the step left it; false when its revision moved since <paramref name="readRevision"/>.</summary>
    public static async Task<bool> UpdateRunAsync(AppDbContext db, ExecutionRecord run, long readRevision, CancellationToken cancellationToken) =>
        await db.ExecuteAsync(UpdateRunSql, cancellationToken, run.StateJson, run.Status, run.UpdatedAt, run.Revision, run.OutputJson, run.CompletedAt,
            run.Error, run.ErrorNodeId, run.LastSequence, run.Id, readRevision) == 1;

    public static Task<int> FinishItemAsync(AppDbContext db, long itemId, DateTime now, CancellationToken cancellationToken) =>
        db.ExecuteAsync(FinishItemSql, cancellationToken, QueueStatuses.Done, now, itemId);

    public static Task<int> InsertEventAsync(AppDbContext db, ExecutionEventRecord e, CancellationToken cancellationToken) =>
        db.ExecuteAsync(InsertEventSql, cancellationToken, e.ExecutionId, e.Sequence, e.TenantId, e.Type, e.NodeId, e.Status, e.At, e.DataJson);

    public static Task<int> InsertNodeRunAsync(AppDbContext db, NodeRunEntity r, CancellationToken cancellationToken) =>
        db.ExecuteAsync(InsertNodeRunSql, cancellationToken, r.ExecutionId, r.NodeId, r.NodeType, r.StackKey, r.StackJson, r.Status, r.OutputJson, r.Error,
            r.StartedAt, r.CompletedAt);

    public static Task<int> CloseNodeRunAsync(AppDbContext db, long id, NodeRunEntity r, CancellationToken cancellationToken) =>
        db.ExecuteAsync(CloseNodeRunSql, cancellationToken, r.Status, r.OutputJson, r.Error, r.CompletedAt, id);

    private const string UpdateRunSql = """
        UPDATE "Executions" SET "StateJson" = @p0, "Status" = @p1, "UpdatedAt" = @p2, "Revision" = @p3, "OutputJson" = @p4, "CompletedAt" = @p5,
            "Error" = @p6, "ErrorNodeId" = @p7, "LastSequence" = @p8
        WHERE "Id" = @p9 AND "Revision" = @p10
        """;

    private const string FinishItemSql = """UPDATE "Queue" SET "Status" = @p0, "CompletedAt" = @p1, "LeasedUntil" = NULL WHERE "Id" = @p2""";

    private const string InsertEventSql = """
        INSERT INTO "ExecutionEvents" ("ExecutionId", "Sequence", "TenantId", "Type", "NodeId", "Status", "At", "DataJson")
        VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7)
        """;

    private const string InsertNodeRunSql = """
        INSERT INTO "NodeRuns" ("ExecutionId", "NodeId", "NodeType", "StackKey", "StackJson", "Status", "OutputJson", "Error", "StartedAt", "CompletedAt")
        VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9)
        """;

    private const string CloseNodeRunSql = """UPDATE "NodeRuns" SET "Status" = @p0, "OutputJson" = @p1, "Error" = @p2, "CompletedAt" = @p3 WHERE "Id" = @p4""";
}
