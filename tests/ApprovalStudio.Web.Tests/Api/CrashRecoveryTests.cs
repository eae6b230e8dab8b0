using System.Net;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>
/// A 202 is durable: the app is a real child process, killed with SIGKILL, and started again on
/// the same database. On SQLite and on PostgreSQL.
/// </summary>
public sealed class CrashRecoveryTests
{
    private static async Task<(string ExecutionId, string ResId)> WaitingRunAsync(Uri address, string key, string definition)
    {
        using var admin = AppHost.BearerClient(address, AppHost.IssueToken(key, "admin", roles: ["admin"]));
        using (var created = await admin.PostJsonAsync("/api/workflows", definition))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        using var started = await admin.PostJsonAsync("/api/workflows/crash/executions", """{"input":{}}""");
        var executionId = (string)(await started.ReadJsonAsync())!["executionId"]!;
        var status = await AppHost.WaitForAsync(address, AppHost.IssueToken(key, "reader"), executionId, s => s["waiting"]!.AsArray().Count == 1);
        return (executionId, (string)status["waiting"]![0]!["resId"]!);
    }

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task A_resume_accepted_just_before_a_kill_9_is_carried_out_after_restart(Provider provider)
    {
        await using var database = TestDatabase.Create(provider);
        var key = AppHost.NewSigningKey();
        const string definition = """
            {"key":"crash","start":"ask","nodes":[{"id":"ask","type":"review","assignees":{"users":["bob"]}},
              {"id":"after","type":"set","values":{"by":"ask.actor"}}],"edges":[{"from":"ask","to":"after"}]}
            """;

        string executionId, resId;
        await using (var first = await AppProcess.StartAsync(database, key))
        {
            (executionId, resId) = await WaitingRunAsync(first.Address, key, definition);
            await first.KillAsync();
        }

        // An instance whose worker is off accepts the resume; it dies before anything could continue the run.
        await using (var acceptor = await AppProcess.StartAsync(database, key, new Dictionary<string, string?> { ["Workflows:Worker:Enabled"] = "false" }))
        {
            using var bob = AppHost.BearerClient(acceptor.Address, AppHost.IssueToken(key, "bob"));
            using var response = await bob.PostJsonAsync($"/api/executions/{resId}/resume", """{"acknowledged":true}""");
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            await acceptor.KillAsync();
        }

        await using (var db = database.OpenContext())
        {
            Assert.Equal(ExecutionStatuses.Resuming, (await db.Executions.SingleAsync(e => e.Id == executionId)).Status);
            Assert.Equal(QueueStatuses.Pending, (await db.Queue.SingleAsync(q => q.ResId == resId)).Status);
        }

        await using (var restarted = await AppProcess.StartAsync(database, key))
        {
            var done = await AppHost.WaitForAsync(restarted.Address, AppHost.IssueToken(key, "reader"), executionId, s => (string?)s["status"] == "Completed");
            Assert.Equal("bob", (string?)done["output"]!["by"]);
        }

        await using var check = database.OpenContext();
        Assert.Equal(1, await check.NodeRuns.CountAsync(r => r.ExecutionId == executionId && r.NodeId == "after"));
    }

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task A_worker_killed_in_the_middle_of_a_continuation_leaves_it_to_the_next_one_once_its_lease_runs_out(Provider provider)
    {
        await using var target = await SlowTarget.StartAsync();
        await using var database = TestDatabase.Create(provider);
        var key = AppHost.NewSigningKey();
        var definition = """
            {"key":"crash","start":"ask","nodes":[{"id":"ask","type":"review","assignees":{"users":["bob"]}},
              {"id":"call","type":"http","method":"POST","url":"TARGET/hook","body":{"by":"{{ask.actor}}"}},
              {"id":"after","type":"set","values":{"status":"call.status"}}],
             "edges":[{"from":"ask","to":"call"},{"from":"call","to":"after"}]}
            """.Replace("TARGET/", target.Address.ToString(), StringComparison.Ordinal);
        // The target is a loopback server: http nodes may reach it only because this says so.
        var lease = new Dictionary<string, string?> { ["Workflows:Worker:LeaseDuration"] = "00:00:02", ["Workflows:Http:AllowedNetworks:0"] = "127.0.0.1/32" };

        string executionId, resId;
        await using (var first = await AppProcess.StartAsync(database, key, lease))
        {
            (executionId, resId) = await WaitingRunAsync(first.Address, key, definition);
            using var bob = AppHost.BearerClient(first.Address, AppHost.IssueToken(key, "bob"));
            using var response = await bob.PostJsonAsync($"/api/executions/{resId}/resume", """{"acknowledged":true}""");
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

            // The continuation is under way: the http node's request has arrived and is held open. Kill now.
            await target.FirstCallArrived.WaitAsync(TimeSpan.FromSeconds(30));
            await first.KillAsync();
        }

        await using (var db = database.OpenContext())
        {
            Assert.Equal(QueueStatuses.Leased, (await db.Queue.SingleAsync(q => q.ResId == resId)).Status);
        }

        await using (var second = await AppProcess.StartAsync(database, key, lease))
        {
            var done = await AppHost.WaitForAsync(second.Address, AppHost.IssueToken(key, "reader"), executionId, s => (string?)s["status"] == "Completed");
            Assert.Equal(200, (int?)done["output"]!["status"]);
        }

        // The http node ran again after the crash (at-least-once for side effects), the resume itself once.
        Assert.Equal(2, target.Calls);
        Assert.All(target.Bodies, b => Assert.Equal("""{"by":"bob"}""", b));
        await using var check = database.OpenContext();
        Assert.Equal(1, await check.Audit.CountAsync(a => a.ResId == resId));
        Assert.Equal(1, await check.NodeRuns.CountAsync(r => r.ExecutionId == executionId && r.NodeId == "after"));
    }

    /// <summary>An HTTP endpoint whose first call never answers (until the test ends) and whose later calls answer 200.</summary>
    private sealed class SlowTarget : IAsyncDisposable
    {
        private readonly CancellationTokenSource _release = new();
        private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private LoopbackServer _server = null!;
        private int _calls;

        public Task FirstCallArrived => _first.Task;
        public int Calls => Volatile.Read(ref _calls);
        public List<string> Bodies { get; } = [];
        public Uri Address => _server.Address;

        public static async Task<SlowTarget> StartAsync()
        {
            var target = new SlowTarget();
            target._server = await LoopbackServer.StartAsync((app, _) => app.MapPost("/hook", async (HttpRequest request) =>
            {
                using var reader = new StreamReader(request.Body);
                var body = await reader.ReadToEndAsync();
                lock (target.Bodies)
                {
                    target.Bodies.Add(body);
                }

                if (Interlocked.Increment(ref target._calls) == 1)
                {
                    target._first.TrySetResult();
                    await Task.Delay(Timeout.Infinite, target._release.Token).ContinueWith(_ => { });
                }

                return Results.Ok(new { ok = true });
            }));
            return target;
        }

        public async ValueTask DisposeAsync()
        {
            await _release.CancelAsync();
            await _server.DisposeAsync();
        }
    }
}
