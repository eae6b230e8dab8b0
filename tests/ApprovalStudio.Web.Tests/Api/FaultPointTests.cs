using System.Collections.Concurrent;
using System.Net;
using ApprovalStudio.Web.Infrastructure.Faults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>
/// <c>kill -9</c> at each hard place of an answer's way to its run's end (<see cref="FaultPoints"/>, armed in a real child
/// process through <c>Faults:KillAt</c>), then a restart on the same database: the run ends exactly as it does without the
/// crash — the same events, one answer in the audit, one run of each node after it — and the http node's call, done again
/// when the step is, carries the same <c>Idempotency-Key</c>, so the service it calls acts once.
/// </summary>
public sealed class FaultPointTests
{
    private const string Definition = """
        {"key":"pay","start":"ask","nodes":[{"id":"ask","type":"review","assignees":{"users":["bob"]}},
          {"id":"call","type":"http","method":"POST","url":"TARGET/pay","body":{"by":"{{ask.actor}}"}},
          {"id":"after","type":"set","values":{"status":"call.status","paid":"call.body.paid"}}],
         "edges":[{"from":"ask","to":"call"},{"from":"call","to":"after"}]}
        """;

    // What a run of this workflow records, with or without a crash on the way.
    private static readonly string[] Events =
    [
        "started", "nodeStarted:ask", "suspended:ask", "resumed:ask", "nodeCompleted:ask", "nodeStarted:call", "nodeCompleted:call",
        "nodeStarted:after", "nodeCompleted:after", "completed",
    ];

    [Theory]
    [InlineData(Provider.Sqlite, null)]
    [InlineData(Provider.Sqlite, FaultPoints.ResumeBeforeCommit)]
    [InlineData(Provider.Sqlite, FaultPoints.ResumeAfterCommit)]
    [InlineData(Provider.Sqlite, FaultPoints.WorkerBeforeLease)]
    [InlineData(Provider.Sqlite, FaultPoints.StepBeforeCommit + ":Resume")]
    [InlineData(Provider.Postgres, FaultPoints.ResumeAfterCommit)]
    [InlineData(Provider.Postgres, FaultPoints.StepBeforeCommit + ":Resume")]
    public async Task Killed_at_a_fault_point_and_restarted_the_run_ends_as_without_the_crash(Provider provider, string? killAt)
    {
        await using var target = await PaymentService.StartAsync();
        await using var database = TestDatabase.Create(provider);
        var key = AppHost.NewSigningKey();
        var settings = new Dictionary<string, string?>(LoopbackTargets.Allowed) { ["Workflows:Worker:LeaseDuration"] = "00:00:01" };

        string executionId, resId;
        await using (var setup = await AppProcess.StartAsync(database, key, settings))
        {
            using var admin = AppHost.BearerClient(setup.Address, AppHost.IssueToken(key, "admin", roles: ["admin"]));
            using (var created = await admin.PostJsonAsync("/api/workflows", Definition.Replace("TARGET/", target.Address.ToString(), StringComparison.Ordinal)))
            {
                Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            }

            using var started = await admin.PostJsonAsync("/api/workflows/pay/executions", """{"input":{}}""");
            executionId = (string)(await started.ReadJsonAsync())!["executionId"]!;
            var status = await AppHost.WaitForAsync(setup.Address, AppHost.IssueToken(key, "reader"), executionId, s => s["waiting"]!.AsArray().Count == 1);
            resId = (string)status["waiting"]![0]!["resId"]!;
        }

        // The answer, on an instance armed to die at the point.
        var answered = false;
        await using (var armed = await AppProcess.StartAsync(database, key, new Dictionary<string, string?>(settings) { ["Faults:KillAt"] = killAt }))
        {
            using var bob = AppHost.BearerClient(armed.Address, AppHost.IssueToken(key, "bob"));
            try
            {
                using var response = await bob.PostJsonAsync($"/api/executions/{resId}/resume", """{"acknowledged":true}""");
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
                answered = true;
            }
            catch (HttpRequestException) when (killAt is FaultPoints.ResumeBeforeCommit or FaultPoints.ResumeAfterCommit or FaultPoints.WorkerBeforeLease)
            {
                // Died before its answer reached the caller (the worker, woken by the commit, can get to its lease before the
                // 202 is on the wire): the caller does not know whether it counted, and asks again below.
            }

            if (killAt is null)
            {
                await AppHost.WaitForAsync(armed.Address, AppHost.IssueToken(key, "reader"), executionId, s => (string?)s["status"] == "Completed");
            }
            else
            {
                Assert.True(await armed.WaitForExitAsync(TimeSpan.FromSeconds(30)), $"the process did not die at {killAt}:\n{armed.Output}");
            }
        }

        await using (var restarted = await AppProcess.StartAsync(database, key, settings))
        {
            if (!answered)
            {
                using var bob = AppHost.BearerClient(restarted.Address, AppHost.IssueToken(key, "bob"));
                var again = await AppHost.SendAsync(bob, HttpMethod.Post, $"/api/executions/{resId}/resume", """{"acknowledged":true}""");
                // Before the commit nothing counted, and this answer is the one; after it, the first one counted.
                var expected = killAt == FaultPoints.ResumeBeforeCommit ? HttpStatusCode.Accepted : HttpStatusCode.Conflict;
                Assert.Equal(expected, again.Status);
                if (again.Status == HttpStatusCode.Conflict)
                {
                    Assert.Equal("bob", (string?)again.Body!["resolvedBy"]);
                }
            }

            var done = await AppHost.WaitForAsync(restarted.Address, AppHost.IssueToken(key, "reader"), executionId, s => (string?)s["status"] == "Completed");
            Assert.Equal("""{"status":200,"paid":1}""", done["output"]!.ToJsonString());
        }

        await using var db = database.OpenContext();
        var events = await db.ExecutionEvents.Where(e => e.ExecutionId == executionId).OrderBy(e => e.Sequence)
            .Select(e => new { e.Sequence, e.Type, e.NodeId }).ToListAsync();
        Assert.Equal(Events, events.Select(e => e.NodeId is null ? e.Type : $"{e.Type}:{e.NodeId}"));
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.Equal(1, await db.Audit.CountAsync(a => a.ResId == resId));
        Assert.Equal(1, await db.NodeRuns.CountAsync(r => r.ExecutionId == executionId && r.NodeId == "call" && r.Status == "Completed"));
        Assert.Equal(1, await db.NodeRuns.CountAsync(r => r.ExecutionId == executionId && r.NodeId == "after"));

        // The service was called once, or again by the redone step with the same key: it paid once.
        Assert.InRange(target.Calls.Count, 1, killAt?.StartsWith(FaultPoints.StepBeforeCommit, StringComparison.Ordinal) == true ? 2 : 1);
        Assert.Single(target.Calls.Select(c => c.Key).Distinct());
        Assert.Matches("^[0-9a-f]{32}$", target.Calls.First().Key);
        Assert.All(target.Calls, c => Assert.Equal("""{"by":"bob"}""", c.Body));
    }

    /// <summary>A service that pays once per Idempotency-Key (a repeat gets the first answer), and records every call.</summary>
    private sealed class PaymentService : IAsyncDisposable
    {
        private readonly LoopbackServer _server;

        private PaymentService(LoopbackServer server, ConcurrentQueue<(string Key, string Body)> calls) => (_server, Calls) = (server, calls);

        public Uri Address => _server.Address;
        public ConcurrentQueue<(string Key, string Body)> Calls { get; }

        public static async Task<PaymentService> StartAsync()
        {
            var calls = new ConcurrentQueue<(string Key, string Body)>();
            var paid = new ConcurrentDictionary<string, int>();
            var server = await LoopbackServer.StartAsync((app, _) => app.MapPost("/pay", async (HttpRequest request) =>
            {
                var key = request.Headers["Idempotency-Key"].ToString();
                calls.Enqueue((key, await new StreamReader(request.Body).ReadToEndAsync()));
                return Results.Json(new { paid = paid.GetOrAdd(key, _ => paid.Count + 1) });
            }));
            return new PaymentService(server, calls);
        }

        public ValueTask DisposeAsync() => _server.DisposeAsync();
    }
}
