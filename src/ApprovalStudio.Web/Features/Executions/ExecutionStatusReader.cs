using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>
/// The status route's read (CONTRACT §3): a run of the tenant and its pending tasks, oldest first. Pollers ask often, so on
/// SQLite it is two prepared statements on a kept connection (<see cref="SqliteReads"/>); on PostgreSQL and SQL Server one
/// compiled EF query (Npgsql prepares it on each connection).
/// </summary>
public sealed class ExecutionStatusReader(IDbContextFactory<AppDbContext> contexts, SqliteReads? sqlite = null)
{
    public async Task<ExecutionStatusView?> ReadAsync(string executionId, string tenantId, CancellationToken cancellationToken)
    {
        if (sqlite is not null)
        {
            return Read(sqlite, executionId, tenantId);
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var found = await StatusQuery.For(db)(db, executionId, tenantId, cancellationToken);
        if (found is null)
        {
            return null;
        }

        var e = found.Execution;
        return new ExecutionStatusView(
            e.Id, e.WorkflowKey, e.WorkflowVersion, e.Status, e.CreatedAt, e.UpdatedAt, e.CompletedAt,
            [.. found.Waiting.Select(t => Waiting(t.ResId, t.NodeId, t.Kind, t.Title, t.StackJson, t.ExpiresAt, t.ToolCallsJson, t.TallyJson))],
            Json(e.OutputJson), e.Error, e.ErrorNodeId, e.LastSequence);
    }

    // The same columns, order and filter as the compiled query below; ExecutionStatusReaderTests holds them to it.
    private const string RunSql = """
        SELECT "Id", "WorkflowKey", "WorkflowVersion", "Status", "CreatedAt", "UpdatedAt", "CompletedAt", "OutputJson", "Error", "ErrorNodeId", "LastSequence"
        FROM "Executions" WHERE "Id" = @p0 AND "TenantId" = @p1
        """;

    private const string WaitingSql = """
        SELECT "ResId", "NodeId", "Kind", "Title", "StackJson", "ExpiresAt", "ToolCallsJson", "TallyJson"
        FROM "Tasks" WHERE "ExecutionId" = @p0 AND "Status" = @p1
        ORDER BY "CreatedAt", "StackKey"
        """;

    private static ExecutionStatusView? Read(SqliteReads sqlite, string executionId, string tenantId)
    {
        using var lease = sqlite.Rent();
        using var snapshot = lease.BeginSnapshot(); // the run and its waits as of one moment, as EF's one statement read them
        string id, workflowKey, status;
        int version;
        DateTime createdAt, updatedAt;
        DateTime? completedAt;
        string? output, error, errorNodeId;
        long lastSequence;
        using (var run = lease.Read(RunSql, executionId, tenantId))
        {
            if (!run.Read())
            {
                return null;
            }

            (id, workflowKey, version, status) = (run.GetString(0), run.GetString(1), run.GetInt32(2), run.GetString(3));
            (createdAt, updatedAt, completedAt) = (run.Utc(4), run.Utc(5), run.UtcOrNull(6));
            (output, error, errorNodeId, lastSequence) = (run.TextOrNull(7), run.TextOrNull(8), run.TextOrNull(9), run.GetInt64(10));
        }

        var waiting = new List<WaitingEntry>();
        using (var tasks = lease.Read(WaitingSql, executionId, TaskStatuses.Pending))
        {
            while (tasks.Read())
            {
                waiting.Add(Waiting(tasks.GetString(0), tasks.GetString(1), tasks.GetString(2), tasks.GetString(3), tasks.GetString(4), tasks.UtcOrNull(5), tasks.TextOrNull(6), tasks.TextOrNull(7)));
            }
        }

        return new ExecutionStatusView(id, workflowKey, version, status, createdAt, updatedAt, completedAt, waiting, Json(output), error, errorNodeId, lastSequence);
    }

    private static WaitingEntry Waiting(
        string resId, string nodeId, string kind, string title, string stackJson, DateTime? expiresAt, string? toolCallsJson, string? tallyJson) =>
        new(resId, nodeId, kind, title, ExecutionsFeature.Stack(stackJson), expiresAt, Json(toolCallsJson), Json(tallyJson));

    private static JsonNode? Json(string? text) => text is null ? null : JsonNode.Parse(text);

    /// <summary>One round trip: the run and its pending tasks (by the Tasks (ExecutionId, Status) index), compiled once.</summary>
    private static readonly CompiledQuery<Func<AppDbContext, string, string, CancellationToken, Task<StatusRow?>>> StatusQuery = new(() => EF.CompileAsyncQuery(
        (AppDbContext db, string executionId, string tenant, CancellationToken _) => db.Executions.AsNoTracking()
            .Where(e => e.Id == executionId && e.TenantId == tenant)
            .Select(e => new StatusRow
            {
                Execution = e,
                Waiting = db.Tasks.Where(t => t.ExecutionId == e.Id && t.Status == TaskStatuses.Pending).OrderBy(t => t.CreatedAt).ThenBy(t => t.StackKey).ToList(),
            })
            .SingleOrDefault()));

    private sealed class StatusRow
    {
        public required ExecutionRecord Execution { get; init; }

        public required List<TaskRecord> Waiting { get; init; }
    }
}
