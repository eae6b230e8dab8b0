using System.Text.Json;
using ApprovalStudio.Testing;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Tests.Executions;

/// <summary>
/// On SQLite the status route reads through kept, prepared statements (<see cref="SqliteReads"/>) instead of EF: it must
/// read exactly what the compiled EF query reads, on a real SQLite file, and the kept connections must never write, never
/// read stale data and never pile up.
/// </summary>
public sealed class ExecutionStatusReaderTests : IAsyncLifetime
{
    private static readonly DateTime At = new(2026, 12, 3, 9, 0, 0, DateTimeKind.Utc);
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);
    private readonly TestDatabase _database = TestDatabase.Create(Provider.Sqlite);

    public async Task InitializeAsync()
    {
        await using var db = _database.OpenContext();
        await db.Database.MigrateAsync();
        db.Executions.AddRange(
            Run("waiting", ExecutionStatuses.Suspended),
            Run("done", ExecutionStatuses.Completed, output: """{"total":42,"items":["a"]}""", completed: At.AddMinutes(5)),
            Run("broken", ExecutionStatuses.Failed, error: "Expression '{{ x }}' failed", errorNode: "calc", completed: At.AddMinutes(1)),
            Run("elsewhere", ExecutionStatuses.Suspended, tenant: "globex"));
        db.Tasks.AddRange(
            TaskRow("t-later", "waiting", At.AddSeconds(2), stackKey: "", noDeadline: true),
            TaskRow("t-loop-b", "waiting", At, stackKey: "loop:1", stackJson: """[{"parentNodeId":"loop","index":1,"total":2}]"""),
            TaskRow("t-loop-a", "waiting", At, stackKey: "loop:0", stackJson: """[{"parentNodeId":"loop","index":0,"total":2}]""",
                toolCalls: """[{"id":"call-1","name":"lookup","arguments":{"q":"x"}}]"""),
            TaskRow("t-answered", "waiting", At.AddSeconds(-1), stackKey: "x", status: TaskStatuses.Resolved),
            TaskRow("t-other", "elsewhere", At, stackKey: ""));
        await db.SaveChangesAsync();
    }

    public async Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        await _database.DisposeAsync();
    }

    [Theory]
    [InlineData("waiting", "acme")]
    [InlineData("done", "acme")]
    [InlineData("broken", "acme")]
    [InlineData("elsewhere", "globex")]
    [InlineData("elsewhere", "acme")] // another tenant's run: not found
    [InlineData("missing", "acme")]
    public async Task On_sqlite_the_kept_statements_read_what_the_compiled_query_reads(string executionId, string tenant)
    {
        using var reads = new SqliteReads(_database.ConnectionString);
        var viaKept = await new ExecutionStatusReader(new Contexts(_database), reads).ReadAsync(executionId, tenant, CancellationToken.None);
        var viaEf = await new ExecutionStatusReader(new Contexts(_database)).ReadAsync(executionId, tenant, CancellationToken.None);

        Assert.Equal(JsonSerializer.Serialize(viaEf, Web), JsonSerializer.Serialize(viaKept, Web));
        Assert.Equal(tenant == "acme" && executionId == "elsewhere" || executionId == "missing", viaKept is null);
    }

    [Fact]
    public async Task The_waiting_tasks_are_the_pending_ones_oldest_first_then_by_stack_with_utc_times()
    {
        using var reads = new SqliteReads(_database.ConnectionString);
        var status = await new ExecutionStatusReader(new Contexts(_database), reads).ReadAsync("waiting", "acme", CancellationToken.None);

        Assert.NotNull(status);
        Assert.Equal(["t-loop-a", "t-loop-b", "t-later"], status.Waiting.Select(w => w.ResId));
        Assert.Equal(DateTimeKind.Utc, status.CreatedAt.Kind);
        Assert.Equal(At.AddHours(1), status.Waiting[0].ExpiresAt);
        Assert.Equal(DateTimeKind.Utc, status.Waiting[0].ExpiresAt!.Value.Kind);
        Assert.Null(status.Waiting[2].ExpiresAt);
        Assert.Equal("lookup", status.Waiting[0].ToolCalls![0]!["name"]!.GetValue<string>());
        Assert.Equal(1, status.Waiting[1].Stack.Single().Index);
    }

    [Fact]
    public async Task A_kept_connection_reads_what_was_committed_after_it_was_opened_and_cannot_write()
    {
        using var reads = new SqliteReads(_database.ConnectionString);
        var reader = new ExecutionStatusReader(new Contexts(_database), reads);
        Assert.Equal(ExecutionStatuses.Suspended, (await reader.ReadAsync("waiting", "acme", CancellationToken.None))!.Status);

        await using (var db = _database.OpenContext())
        {
            await db.Executions.Where(e => e.Id == "waiting").ExecuteUpdateAsync(s => s.SetProperty(e => e.Status, ExecutionStatuses.Completed));
        }

        Assert.Equal(1, reads.Idle); // the same connection, kept
        Assert.Equal(ExecutionStatuses.Completed, (await reader.ReadAsync("waiting", "acme", CancellationToken.None))!.Status);

        using (var lease = reads.Rent())
        {
            var refused = Assert.Throws<SqliteException>(() => lease.Read("""DELETE FROM "Executions" """).Dispose());
            Assert.Contains("readonly", refused.Message, StringComparison.OrdinalIgnoreCase);
        }

        await using (var db = _database.OpenContext())
        {
            Assert.Equal(4, await db.Executions.CountAsync());
        }

        Assert.Equal(0, reads.Idle); // the connection that failed is not kept
    }

    [Fact]
    public void At_most_Keep_idle_connections_stay_open_and_none_after_dispose()
    {
        var reads = new SqliteReads(_database.ConnectionString, keep: 2);
        var leases = Enumerable.Range(0, 5).Select(_ => reads.Rent()).ToList();
        foreach (var lease in leases)
        {
            using var row = lease.Read("""SELECT COUNT(*) FROM "Executions" WHERE "TenantId" = @p0""", "acme");
            Assert.True(row.Read());
            Assert.Equal(3, row.GetInt32(0));
        }

        leases.ForEach(l => l.Dispose());
        Assert.Equal(2, reads.Idle);

        reads.Dispose();
        Assert.Equal(0, reads.Idle);
        Assert.Throws<ObjectDisposedException>(() => reads.Rent());
    }

    [Fact]
    public async Task A_read_only_connection_it_closes_never_reaches_a_writer()
    {
        // Microsoft.Data.Sqlite pools native handles by connection string: one closed with query_only on, handed back
        // there, would make the app's next write fail as "attempt to write a readonly database".
        using (var reads = new SqliteReads(_database.ConnectionString, keep: 0))
        {
            using var lease = reads.Rent();
            using var row = lease.Read("""SELECT COUNT(*) FROM "Executions" """);
            Assert.True(row.Read());
        }

        await using var db = _database.OpenContext();
        db.Executions.Add(Run("after", ExecutionStatuses.Running));
        Assert.Equal(1, await db.SaveChangesAsync());
    }

    private static ExecutionRecord Run(string id, string status, string tenant = "acme", string? output = null, string? error = null, string? errorNode = null,
        DateTime? completed = null) => new()
        {
            Id = id, TenantId = tenant, WorkflowKey = "expenses", WorkflowVersion = 3, Status = status, InputJson = "{}", CreatedBy = "rita",
            CreatedAt = At.AddMinutes(-10), UpdatedAt = At, CompletedAt = completed, OutputJson = output, Error = error, ErrorNodeId = errorNode, LastSequence = 7,
        };

    private static TaskRecord TaskRow(string resId, string executionId, DateTime created, string stackKey, string stackJson = "[]", bool noDeadline = false,
        string? toolCalls = null, string status = TaskStatuses.Pending) => new()
        {
            ResId = resId, ExecutionId = executionId, TenantId = "acme", WorkflowKey = "expenses", WorkflowVersion = 3, NodeId = "ask",
            StackJson = stackJson, StackKey = stackKey, Kind = toolCalls is null ? "Approval" : "ToolCall", Title = $"Task {resId}", ToolCallsJson = toolCalls,
            Status = status, CreatedAt = created, ExpiresAt = noDeadline ? null : At.AddHours(1),
        };

    private sealed class Contexts(TestDatabase database) : IDbContextFactory<AppDbContext>
    {
        public AppDbContext CreateDbContext() => database.OpenContext();
    }
}
