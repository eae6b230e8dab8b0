using System.Data.Common;
using System.Net;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>Exactly-once consumption under contention, on SQLite and on PostgreSQL.</summary>
public sealed class ConcurrencyTests
{
    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task Fifty_concurrent_resumes_of_one_task_give_one_202_and_49_409_and_the_continuation_runs_once(Provider provider)
    {
        // Every post reads the task as pending before the first consume commits: the guarded update alone must decide.
        var slowConsume = new SlowTaskUpdate(TimeSpan.FromMilliseconds(500));
        await using var host = await AppHost.StartAsync(provider, services: s =>
        {
            s.ConfigureDbContext<SqliteAppDbContext>(o => o.AddInterceptors(slowConsume));
            s.ConfigureDbContext<PostgresAppDbContext>(o => o.AddInterceptors(slowConsume));
        });
        await host.CreateWorkflowAsync(Flows.Review);
        var executionId = await host.StartRunAsync("review-flow");
        var resId = await host.WaitForTaskAsync(executionId);
        var clients = Enumerable.Range(0, 50).Select(i => host.Client(host.Token($"user{i}", ["ops"]))).ToArray();
        using var gate = new SemaphoreSlim(0);

        var posts = clients.Select(async (client, i) =>
        {
            await gate.WaitAsync();
            var (status, body, _) = await AppHost.SendAsync(client, HttpMethod.Post, $"/api/executions/{resId}/resume", $$"""{"acknowledged":true,"comment":"from {{i}}"}""");
            return (Status: status, Body: body, User: $"user{i}");
        }).ToArray();
        gate.Release(posts.Length);
        var results = await Task.WhenAll(posts);

        var winner = Assert.Single(results, r => r.Status == HttpStatusCode.Accepted);
        var losers = results.Where(r => r.Status != HttpStatusCode.Accepted).ToList();
        Assert.Equal(49, losers.Count);
        Assert.All(losers, l => Assert.Equal(HttpStatusCode.Conflict, l.Status));
        Assert.All(losers, l => Assert.Equal(winner.User, (string?)l.Body!["resolvedBy"]));

        var done = await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
        Assert.Equal(winner.User, (string?)done["output"]!["by"]);
        await using var db = host.Database.OpenContext();
        Assert.Equal(1, await db.Audit.CountAsync(a => a.ResId == resId));
        Assert.Equal(1, await db.Queue.CountAsync(q => q.ResId == resId && q.Kind == QueueKinds.Resume));
        Assert.Equal(1, await db.NodeRuns.CountAsync(r => r.ExecutionId == executionId && r.NodeId == "after"));
        var task = await db.Tasks.SingleAsync(t => t.ResId == resId);
        Assert.Equal((TaskStatuses.Resolved, winner.User), (task.Status, task.ResolvedBy));
    }

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task Waits_in_parallel_iterations_resumed_at_the_same_time_all_land_and_the_run_completes(Provider provider)
    {
        await using var host = await AppHost.StartAsync(provider);
        await host.CreateWorkflowAsync("""
            {"key":"fan-out","start":"each",
             "nodes":[{"id":"each","type":"forEach","items":"input.people","body":"ask"},
                      {"id":"ask","type":"review","title":"Hi {{item}}","assignees":{"groups":["ops"]}},
                      {"id":"count","type":"set","values":{"n":"each.length","who":"each.map(r => r.comment).join(',')"}}],
             "edges":[{"from":"each","to":"count"}]}
            """);
        var executionId = await host.StartRunAsync("fan-out", """{"people":["a","b","c","d","e","f"]}""");
        var status = await host.WaitForAsync(executionId, s => s["waiting"]!.AsArray().Count == 6);
        var client = host.Client(host.Token("ann", ["ops"]));

        var answers = status["waiting"]!.AsArray().Select(w => AppHost.SendAsync(client, HttpMethod.Post,
            $"/api/executions/{(string)w!["resId"]!}/resume", $$"""{"acknowledged":true,"comment":"{{w["stack"]![0]!["index"]}}"}"""));
        Assert.All(await Task.WhenAll(answers), a => Assert.Equal(HttpStatusCode.Accepted, a.Status));

        var done = await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
        Assert.Equal("""{"n":6,"who":"0,1,2,3,4,5"}""", done["output"]!.ToJsonString());
    }

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task A_step_that_an_answer_overtakes_is_redone_at_once_not_counted_as_a_failed_attempt(Provider provider)
    {
        // Two parallel waits. Answering "a" starts a step whose http node is held open; "b" is answered meanwhile, so
        // the run (and its event numbers) moves on under the step. The step must lose as a conflict and be redone.
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var firstCall = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = 0;
        await using var target = await LoopbackServer.StartAsync((app, _) => app.MapPost("/hook", async () =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                firstCall.TrySetResult();
                await release.Task;
            }

            return Results.Ok(new { ok = true });
        }));
        await using var host = await AppHost.StartAsync(provider, new Dictionary<string, string?> { ["Workflows:Http:AllowedNetworks:0"] = "127.0.0.1/32" });
        await host.CreateWorkflowAsync("""
            {"key":"overtaken","start":"fork",
             "nodes":[{"id":"fork","type":"set","values":{"go":"true"}},
                      {"id":"a","type":"review","assignees":{"users":["bob"]}},
                      {"id":"b","type":"review","assignees":{"users":["bob"]}},
                      {"id":"call","type":"http","method":"POST","url":"TARGET/hook","body":{"by":"{{a.actor}}"}}],
             "edges":[{"from":"fork","to":"a"},{"from":"fork","to":"b"},{"from":"a","to":"call"}]}
            """.Replace("TARGET/", target.Address.ToString(), StringComparison.Ordinal));
        var executionId = await host.StartRunAsync("overtaken");
        var waiting = (await host.WaitForAsync(executionId, s => s["waiting"]!.AsArray().Count == 2))["waiting"]!.AsArray();
        string ResId(string node) => (string)waiting.Single(w => (string?)w!["nodeId"] == node)!["resId"]!;
        var bob = host.Client(host.Token("bob"));

        Assert.Equal(HttpStatusCode.Accepted, (await AppHost.SendAsync(bob, HttpMethod.Post, $"/api/executions/{ResId("a")}/resume", """{"acknowledged":true}""")).Status);
        await firstCall.Task.WaitAsync(TimeSpan.FromSeconds(30)); // a's step has read the run and is inside its http node
        Assert.Equal(HttpStatusCode.Accepted, (await AppHost.SendAsync(bob, HttpMethod.Post, $"/api/executions/{ResId("b")}/resume", """{"acknowledged":true}""")).Status);
        release.SetResult();

        await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
        await using var db = host.Database.OpenContext();
        var answered = ResId("a");
        var step = await db.Queue.AsNoTracking().SingleAsync(q => q.ResId == answered);
        Assert.Equal((0, null), (step.Attempts, step.LastError)); // redone as a conflict, not failed and backed off
        Assert.Equal(2, Volatile.Read(ref calls)); // the step ran again (at-least-once), and its first try left nothing
        var sequences = await db.ExecutionEvents.AsNoTracking().Where(e => e.ExecutionId == executionId).Select(e => e.Sequence).OrderBy(n => n).ToListAsync();
        Assert.Equal(Enumerable.Range(1, sequences.Count).Select(n => (long)n), sequences.Select(n => (long)n));
        Assert.Equal(1, await db.NodeRuns.CountAsync(r => r.ExecutionId == executionId && r.NodeId == "call"));
    }

    /// <summary>
    /// Holds back the first UPDATE that consumes a task, so that every other post has read the task as
    /// pending before anything commits. Only the first: on SQLite the wait holds the write lock.
    /// </summary>
    private sealed class SlowTaskUpdate(TimeSpan delay) : DbCommandInterceptor
    {
        private int _delayed;

        public override async ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(
            DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
        {
            if (command.CommandText.Contains("UPDATE", StringComparison.OrdinalIgnoreCase)
                && command.CommandText.Contains("Tasks", StringComparison.Ordinal)
                && command.CommandText.Contains("ResolvedBy", StringComparison.Ordinal)
                && Interlocked.Exchange(ref _delayed, 1) == 0)
            {
                await Task.Delay(delay, cancellationToken);
            }

            return result;
        }
    }
}
