using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalStudio.Web.Tests.Infrastructure;

/// <summary>
/// Answers that arrive together share one commit (on a real SQLite file), each keeps its own outcome — a unit that
/// declines or throws is rolled back alone — and none learns its result before the commit.
/// </summary>
public sealed class GroupCommitTests
{
    [Fact]
    public async Task Units_that_wait_for_the_writer_share_one_commit_and_a_declining_or_failing_unit_is_rolled_back_alone()
    {
        await using var host = await AppHost.StartAsync();
        var commits = host.Services.GetRequiredService<GroupCommit>();
        var gate = host.Services.GetRequiredService<SqliteWriteGate>();
        var before = commits.Commits;

        Task<int>[] units;
        await using (var holder = host.Services.CreateAsyncScope())
        {
            // Hold SQLite's writer, as a long worker step would: the units queue up behind it.
            var held = await gate.BeginAsync(holder.ServiceProvider.GetRequiredService<AppDbContext>(), CancellationToken.None);
            units = [.. Enumerable.Range(0, 40).Select(i => commits.RunAsync<int>(async (db, ct) =>
            {
                if (i == 7)
                {
                    throw new InvalidOperationException("unit 7 fails");
                }

                db.Audit.Add(Audit($"unit-{i}"));
                if (i == 13)
                {
                    await db.SaveChangesAsync(ct); // written, then declined: the savepoint takes it back
                    return (i, false);
                }

                return (i, true);
            }, CancellationToken.None))];
            await Task.Delay(200);
            Assert.DoesNotContain(units, u => u.IsCompleted); // nothing is answered before its commit
            await held.DisposeAsync();
        }

        await Assert.ThrowsAsync<InvalidOperationException>(() => units[7]);
        Assert.Equal(13, await units[13]);
        foreach (var i in Enumerable.Range(0, 40).Except([7]))
        {
            Assert.Equal(i, await units[i]);
        }

        Assert.InRange(commits.Commits - before, 1, 2); // the first unit may have been taken alone before the rest arrived

        await using var scope = host.Services.CreateAsyncScope();
        var written = await scope.ServiceProvider.GetRequiredService<AppDbContext>().Audit.AsNoTracking()
            .Where(a => a.ResId.StartsWith("unit-")).Select(a => a.ResId).ToListAsync();
        Assert.Equal(Enumerable.Range(0, 40).Except([7, 13]).Select(i => $"unit-{i}").Order(), written.Order());
    }

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)] // no batching there: each unit is a transaction of its own
    public async Task A_unit_alone_that_declines_leaves_nothing_behind_and_one_that_commits_is_on_disk(Provider provider)
    {
        await using var host = await AppHost.StartAsync(provider);
        var commits = host.Services.GetRequiredService<GroupCommit>();
        Assert.Equal("no", await commits.RunAsync<string>(async (db, ct) =>
        {
            db.Audit.Add(Audit("alone"));
            await db.SaveChangesAsync(ct);
            return ("no", false);
        }, CancellationToken.None));

        Assert.Equal("yes", await commits.RunAsync<string>((db, ct) =>
        {
            db.Audit.Add(Audit("kept"));
            return Task.FromResult(("yes", true));
        }, CancellationToken.None));

        await using var scope = host.Services.CreateAsyncScope();
        var markers = await scope.ServiceProvider.GetRequiredService<AppDbContext>().Audit.AsNoTracking().Select(a => a.ResId).ToListAsync();
        Assert.Equal(["kept"], markers);
    }

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task Plain_statements_commit_and_roll_back_with_their_unit_and_read_back_as_ef_wrote_them(Provider provider)
    {
        await using var host = await AppHost.StartAsync(provider);
        var commits = host.Services.GetRequiredService<GroupCommit>();
        var at = new DateTime(2026, 12, 3, 9, 30, 15, DateTimeKind.Utc).AddTicks(1_234_560); // microseconds: what PostgreSQL keeps
        Task<int> Insert(string marker, bool commit, bool fail) => commits.RunAsync<int>(async (db, ct) =>
        {
            var rows = await db.ExecuteAsync(InsertAudit, ct, AppHost.Tenant, "group-commit", marker, "n", "Test", "test", null, "test", at, """{"n":1}""");
            return fail ? throw new InvalidOperationException(marker) : (rows, commit);
        }, CancellationToken.None);

        var units = new[] { Insert("plain-kept", true, false), Insert("plain-declined", false, false), Insert("plain-failed", true, true), Insert("plain-too", true, false) };
        await Assert.ThrowsAsync<InvalidOperationException>(() => units[2]);
        var rows = await Task.WhenAll(units[0], units[1], units[3]);
        Assert.Equal([1, 1, 1], rows);

        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var written = await db.Audit.AsNoTracking().Where(a => a.ResId.StartsWith("plain-")).OrderBy(a => a.ResId).ToListAsync();
        Assert.Equal(["plain-kept", "plain-too"], written.Select(a => a.ResId));
        Assert.All(written, a => Assert.Equal((at, DateTimeKind.Utc, (string?)null, """{"n":1}"""), (a.At, a.At.Kind, a.ActorName, a.PayloadJson)));

        // Only in the writer's transaction: bare, it would take no turn at the writer and could wait for it on its thread.
        await Assert.ThrowsAsync<InvalidOperationException>(() => db.ExecuteAsync(InsertAudit, CancellationToken.None, AppHost.Tenant, "x", "x", "n", "T", "t", null, "t", at, null));
    }

    [Fact]
    public async Task On_sqlite_the_writer_keeps_its_connection_open_from_one_commit_to_the_next()
    {
        await using var host = await AppHost.StartAsync();
        var commits = host.Services.GetRequiredService<GroupCommit>();
        Task<System.Data.Common.DbConnection> Connection() =>
            commits.RunAsync((db, _) => Task.FromResult((db.Database.GetDbConnection(), true)), CancellationToken.None);

        var first = await Connection();
        Assert.Equal(System.Data.ConnectionState.Open, first.State); // after its commit: kept, with its prepared statements
        Assert.Same(first, await Connection());
    }

    private const string InsertAudit = """
        INSERT INTO "Audit" ("TenantId", "ExecutionId", "ResId", "NodeId", "Action", "Actor", "ActorName", "Channel", "Grant", "At", "PayloadJson")
        VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, NULL, @p8, @p9)
        """;

    [Fact]
    public async Task Starts_answers_and_the_workers_steps_all_commit_through_it()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Api.Flows.Review);
        var commits = host.Services.GetRequiredService<GroupCommit>();

        var before = commits.Commits;
        var run = await host.StartRunAsync("review-flow", """{"doc":"plan"}""");
        Assert.Equal(1, commits.Commits - before); // the start

        var resId = await host.WaitForTaskAsync(run);
        Assert.Equal(2, commits.Commits - before); // and the worker's first step, which suspended the run

        using (var answered = await host.Client(host.Token("bob")).PostAsync($"/api/executions/{resId}/resume", AppHost.Json("""{"acknowledged":true}""")))
        {
            Assert.Equal(System.Net.HttpStatusCode.Accepted, answered.StatusCode);
        }

        await host.WaitForAsync(run, s => (string?)s["status"] == "Completed");
        Assert.Equal(4, commits.Commits - before); // the answer, and the step that continued the run
    }

    [Fact]
    public async Task Starts_that_arrive_while_the_writer_is_busy_share_its_next_commit()
    {
        await using var host = await AppHost.StartAsync(settings: new Dictionary<string, string?> { ["Workflows:Worker:Enabled"] = "false" });
        await host.CreateWorkflowAsync(Api.Flows.Review);
        var commits = host.Services.GetRequiredService<GroupCommit>();
        var gate = host.Services.GetRequiredService<SqliteWriteGate>();
        var before = commits.Commits;

        Task<string>[] starts;
        await using (var holder = host.Services.CreateAsyncScope())
        {
            var held = await gate.BeginAsync(holder.ServiceProvider.GetRequiredService<AppDbContext>(), CancellationToken.None);
            starts = [.. Enumerable.Range(0, 10).Select(i => host.StartRunAsync("review-flow", $$"""{"doc":"d{{i}}"}"""))];
            await Task.Delay(500);
            Assert.DoesNotContain(starts, s => s.IsCompleted); // no 202 before the run is on disk
            await held.DisposeAsync();
        }

        var ids = await Task.WhenAll(starts);
        Assert.Equal(10, ids.Distinct().Count());
        Assert.InRange(commits.Commits - before, 1, 2); // the first may have been taken alone before the rest arrived
    }

    [Fact]
    public async Task On_postgres_a_unit_chosen_as_a_deadlocks_victim_runs_again_and_other_failures_do_not()
    {
        await using var host = await AppHost.StartAsync(Provider.Postgres);
        var commits = host.Services.GetRequiredService<GroupCommit>();

        var runs = 0;
        var value = await commits.RunAsync<int>(async (db, ct) =>
        {
            db.Audit.Add(Audit($"try-{++runs}"));
            await db.SaveChangesAsync(ct);
            if (runs == 1)
            {
                throw new Npgsql.PostgresException("deadlock detected", "ERROR", "ERROR", "40P01"); // what the server says to its victim
            }

            return (runs, true);
        }, CancellationToken.None);
        Assert.Equal(2, value);

        var duplicateRuns = 0;
        await Assert.ThrowsAsync<Npgsql.PostgresException>(() => commits.RunAsync<int>((_, _) =>
        {
            duplicateRuns++;
            throw new Npgsql.PostgresException("duplicate key value", "ERROR", "ERROR", "23505");
        }, CancellationToken.None));
        Assert.Equal(1, duplicateRuns);

        await using var scope = host.Services.CreateAsyncScope();
        var markers = await scope.ServiceProvider.GetRequiredService<AppDbContext>().Audit.AsNoTracking().Select(a => a.ResId).ToListAsync();
        Assert.Equal(["try-2"], markers); // the victim's first try was rolled back with its transaction
    }

    private static AuditRecord Audit(string marker) => new()
    {
        TenantId = AppHost.Tenant, ExecutionId = "group-commit", ResId = marker, NodeId = "n", Action = "Test", Actor = "test", Channel = "test",
        At = DateTime.UtcNow,
    };
}
