using ApprovalStudio.Web.Features.Inbox;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using BenchmarkDotNet.Attributes;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalStudio.Benchmarks;

/// <summary>
/// The inbox's first page, its count badge, and a filtered search, on a SQLite file holding
/// <see cref="Pending"/> pending tasks that the approver may all answer (the worst case: nothing is
/// filtered away by assignment). The 1,000-task case is the baseline: the target is that 100,000
/// tasks cost a small multiple of it (server-side paging), not 100 times as much.
/// </summary>
[MemoryDiagnoser]
public class InboxBenchmarks
{
    private static readonly Actor Approver = new("bench", "ann", "Ann", new HashSet<string> { "ops" }, new HashSet<string>());
    private ServiceProvider _services = null!;
    private InboxQueries _inbox = null!;
    private string _folder = null!;

    [Params(1_000, 100_000)]
    public int Pending { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        _folder = Directory.CreateTempSubdirectory("approval-studio-bench-").FullName;
        var connection = $"Data Source={Path.Combine(_folder, "bench.db")}";
        var services = new ServiceCollection();
        services.AddDbContext<SqliteAppDbContext>(o => o.UseSqlite(connection));
        services.AddScoped<AppDbContext>(sp => sp.GetRequiredService<SqliteAppDbContext>());
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<InboxQueries>();
        _services = services.BuildServiceProvider();
        await _services.MigrateDatabaseAsync();
        await SeedAsync(connection, Pending);
        _inbox = _services.GetRequiredService<InboxQueries>();
    }

    [Benchmark(Description = "first page, newest first")]
    public Task<InboxSlice> FirstPage() => _inbox.ListAsync(Approver, new InboxFilter(), 0, 25, CancellationToken.None);

    [Benchmark(Description = "count badge")]
    public Task<int> Count() => _inbox.CountPendingAsync(Approver, CancellationToken.None);

    [Benchmark(Description = "search + kind filter, deadline first")]
    public Task<InboxSlice> Search() =>
        _inbox.ListAsync(Approver, new InboxFilter(Kind: "Approval", Search: "invoice 9", Sort: InboxSort.DeadlineFirst), 0, 25, CancellationToken.None);

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _services.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    private static async Task SeedAsync(string connectionString, int count)
    {
        await using var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var start = DateTime.UtcNow.AddDays(-30);
        var execution = connection.CreateCommand();
        execution.CommandText = """
            INSERT INTO Executions (Id, TenantId, WorkflowKey, WorkflowVersion, Status, InputJson, CreatedBy, CreatedAt, UpdatedAt, Revision, LastSequence)
            VALUES ($id, 'bench', 'invoices', 1, 'Suspended', '{}', 'requester', $at, $at, 0, 0)
            """;
        var task = connection.CreateCommand();
        task.CommandText = """
            INSERT INTO Tasks (ResId, ExecutionId, TenantId, WorkflowKey, WorkflowVersion, NodeId, StackJson, StackKey, Kind, Title, Status, CreatedAt, ExpiresAt)
            VALUES ($res, $id, 'bench', 'invoices', 1, 'approve', '[]', '', $kind, $title, 'Pending', $at, $expires)
            """;
        var assignee = connection.CreateCommand();
        assignee.CommandText = "INSERT INTO TaskAssignees (ResId, Kind, Value) VALUES ($res, 'group', 'ops')";
        foreach (var command in new[] { execution, task, assignee })
        {
            command.Transaction = (SqliteTransaction)transaction;
        }

        for (var i = 0; i < count; i++)
        {
            var id = $"exec-{i:D7}";
            var res = $"res-{i:D7}";
            var at = start.AddSeconds(i * 20).ToString("yyyy-MM-dd HH:mm:ss.FFFFFFF");
            execution.Parameters.Clear();
            execution.Parameters.AddWithValue("$id", id);
            execution.Parameters.AddWithValue("$at", at);
            await execution.ExecuteNonQueryAsync();
            task.Parameters.Clear();
            task.Parameters.AddWithValue("$res", res);
            task.Parameters.AddWithValue("$id", id);
            task.Parameters.AddWithValue("$kind", i % 3 == 0 ? "Approval" : i % 3 == 1 ? "UserForm" : "Review");
            task.Parameters.AddWithValue("$title", $"Invoice {i} from supplier {i % 97}");
            task.Parameters.AddWithValue("$at", at);
            task.Parameters.AddWithValue("$expires", start.AddDays(40).AddSeconds(i).ToString("yyyy-MM-dd HH:mm:ss.FFFFFFF"));
            await task.ExecuteNonQueryAsync();
            assignee.Parameters.Clear();
            assignee.Parameters.AddWithValue("$res", res);
            await assignee.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
    }
}
