using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.Resume;

/// <summary>
/// The task an answer is for, with its assignees, read before anything is written (the guarded update decides, not this
/// read). Every answer on every channel reads it, so on SQLite it is two prepared statements on a kept connection
/// (<see cref="SqliteReads"/>); elsewhere a compiled EF query.
/// </summary>
public sealed class TaskReader(SqliteReads? sqlite = null)
{
    public async Task<TaskRecord?> FindAsync(AppDbContext db, string resId, CancellationToken cancellationToken) =>
        sqlite is not null ? Read(sqlite, resId) : await TaskQuery.For(db)(db, resId, cancellationToken);

    // Every column of TaskRecord; TaskReaderTests holds this read to EF's.
    private const string TaskSql = """
        SELECT "ResId", "ExecutionId", "TenantId", "WorkflowKey", "WorkflowVersion", "NodeId", "StackJson", "StackKey", "Kind", "Title",
            "ToolCallsJson", "Status", "CreatedAt", "Made", "ExpiresAt", "ResolvedBy", "ResolvedByName", "ResolvedAt", "Channel", "OutputJson",
            "RequestedBy", "TallyJson"
        FROM "Tasks" WHERE "ResId" = @p0
        """;

    private const string AssigneesSql = """SELECT "Kind", "Value" FROM "TaskAssignees" WHERE "ResId" = @p0""";

    private static TaskRecord? Read(SqliteReads sqlite, string resId)
    {
        using var lease = sqlite.Rent();
        TaskRecord task;
        using (var row = lease.Read(TaskSql, resId))
        {
            if (!row.Read())
            {
                return null;
            }

            task = new TaskRecord
            {
                ResId = row.GetString(0), ExecutionId = row.GetString(1), TenantId = row.GetString(2), WorkflowKey = row.GetString(3),
                WorkflowVersion = row.GetInt32(4), NodeId = row.GetString(5), StackJson = row.GetString(6), StackKey = row.GetString(7),
                Kind = row.GetString(8), Title = row.GetString(9), ToolCallsJson = row.TextOrNull(10), Status = row.GetString(11),
                CreatedAt = row.Utc(12), Made = row.GetInt64(13), ExpiresAt = row.UtcOrNull(14), ResolvedBy = row.TextOrNull(15),
                ResolvedByName = row.TextOrNull(16), ResolvedAt = row.UtcOrNull(17), Channel = row.TextOrNull(18), OutputJson = row.TextOrNull(19),
                RequestedBy = row.TextOrNull(20), TallyJson = row.TextOrNull(21),
            };
        }

        using (var assignees = lease.Read(AssigneesSql, resId))
        {
            while (assignees.Read())
            {
                task.Assignees.Add(new TaskAssigneeRecord { ResId = task.ResId, Kind = assignees.GetString(0), Value = assignees.GetString(1) });
            }
        }

        return task;
    }

    private static readonly CompiledQuery<Func<AppDbContext, string, CancellationToken, Task<TaskRecord?>>> TaskQuery = new(() => EF.CompileAsyncQuery(
        (AppDbContext db, string resId, CancellationToken _) => db.Tasks.AsNoTracking().Include(t => t.Assignees).SingleOrDefault(t => t.ResId == resId)));
}
