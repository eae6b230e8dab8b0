using System.Text.Json;
using ApprovalStudio.Testing;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Tests.Resume;

/// <summary>
/// Every answer reads its task first; on SQLite through kept, prepared statements (<see cref="SqliteReads"/>). That read
/// must give the task EF gives, every column and assignee, on a real SQLite file.
/// </summary>
public sealed class TaskReaderTests : IAsyncLifetime
{
    private static readonly DateTime At = new(2026, 12, 3, 9, 0, 0, DateTimeKind.Utc);
    private readonly TestDatabase _database = TestDatabase.Create(Provider.Sqlite);

    public async Task InitializeAsync()
    {
        await using var db = _database.OpenContext();
        await db.Database.MigrateAsync();
        db.Executions.Add(new ExecutionRecord
        {
            Id = "run", TenantId = "acme", WorkflowKey = "expenses", WorkflowVersion = 2, Status = ExecutionStatuses.Suspended, InputJson = "{}",
            CreatedBy = "rita", CreatedAt = At, UpdatedAt = At,
        });
        db.Tasks.AddRange(
            new TaskRecord
            {
                ResId = "open", ExecutionId = "run", TenantId = "acme", WorkflowKey = "expenses", WorkflowVersion = 2, NodeId = "ask",
                StackJson = """[{"parentNodeId":"loop","index":1,"total":3}]""", StackKey = "loop:1", Kind = "ToolCall", Title = "Look up the vendor",
                ToolCallsJson = """[{"id":"c1","name":"vendor"}]""", Status = TaskStatuses.Pending, CreatedAt = At, Made = 17, ExpiresAt = At.AddDays(2),
                Assignees =
                [
                    new TaskAssigneeRecord { ResId = "open", Kind = AssigneeKinds.Group, Value = "finance" },
                    new TaskAssigneeRecord { ResId = "open", Kind = AssigneeKinds.User, Value = "ann" },
                ],
            },
            new TaskRecord
            {
                ResId = "answered", ExecutionId = "run", TenantId = "acme", WorkflowKey = "expenses", WorkflowVersion = 2, NodeId = "review",
                StackJson = "[]", StackKey = "", Kind = "Approval", Title = "Approve", Status = TaskStatuses.Resolved, CreatedAt = At.AddMinutes(-3), Made = 4,
                ResolvedBy = "ann", ResolvedByName = "Ann Approver", ResolvedAt = At.AddMinutes(-1), Channel = "slack", OutputJson = """{"decision":"Approved"}""",
                TallyJson = """{"approvals":2,"rejections":0,"required":2,"waitingFor":[]}""",
            });
        await db.SaveChangesAsync();
    }

    public async Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        await _database.DisposeAsync();
    }

    [Theory]
    [InlineData("open")]
    [InlineData("answered")]
    [InlineData("missing")]
    public async Task On_sqlite_the_kept_statements_read_the_task_ef_reads(string resId)
    {
        using var reads = new SqliteReads(_database.ConnectionString);
        await using var db = _database.OpenContext();

        var viaKept = await new TaskReader(reads).FindAsync(db, resId, CancellationToken.None);
        var viaEf = await new TaskReader().FindAsync(db, resId, CancellationToken.None);

        Assert.Equal(Json(viaEf), Json(viaKept));
        Assert.Equal(resId == "missing", viaKept is null);
        if (resId == "open")
        {
            Assert.Equal(["group:finance", "user:ann"], viaKept!.Assignees.Select(a => $"{a.Kind}:{a.Value}").Order());
            Assert.Equal((17L, DateTimeKind.Utc), (viaKept.Made, viaKept.ExpiresAt!.Value.Kind));
        }
    }

    // Assignees in one order (a set to the pipeline), every other property as it is.
    private static string Json(TaskRecord? task)
    {
        if (task is not null)
        {
            task.Assignees = [.. task.Assignees.OrderBy(a => a.Kind).ThenBy(a => a.Value)];
        }

        return JsonSerializer.Serialize(task);
    }
}
