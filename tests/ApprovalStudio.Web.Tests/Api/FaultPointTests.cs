using System.Collections.Concurrent;
using System.Net;
using ApprovalStudio.Web.Infrastructure.Faults;
using ApprovalStudio.Web.Infrastructure.Idempotency;
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

    /// <summary>
    /// A start (and a resume-from, which starts a run too) with an <c>Idempotency-Key</c>, killed after the new run's commit and
    /// before its answer: the caller never heard back, so it asks again with the same key once an instance is up. The key's
    /// row says which run the first request started (written in the same commit), so the retry answers for that run rather
    /// than starting another: one run, and every answer names it.
    /// </summary>
    [Theory]
    [InlineData(Provider.Sqlite, "start")]
    [InlineData(Provider.Sqlite, "resume-from")]
    [InlineData(Provider.Postgres, "start")]
    [InlineData(Provider.Postgres, "resume-from")]
    public async Task A_keyed_start_killed_after_its_commit_and_retried_after_a_restart_starts_exactly_one_run(Provider provider, string route)
    {
        await using var database = TestDatabase.Create(provider);
        var key = AppHost.NewSigningKey();
        var settings = new Dictionary<string, string?> { ["Idempotency:InFlightFor"] = "00:00:01" }; // a dead holder's key is taken over after 1 s
        string path;
        string? failedRun = null;
        await using (var setup = await AppProcess.StartAsync(database, key, settings))
        {
            using var admin = AppHost.BearerClient(setup.Address, AppHost.IssueToken(key, "admin", roles: ["admin"]));
            using (var created = await admin.PostJsonAsync("/api/workflows", """
                {"key":"fails","start":"prep","nodes":[{"id":"prep","type":"set","values":{"n":"input.n"}},{"id":"stop","type":"fail","message":"n was {{prep.n}}"}],
                 "edges":[{"from":"prep","to":"stop"}]}
                """))
            {
                Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            }

            if (route == "resume-from")
            {
                using var started = await admin.PostJsonAsync("/api/workflows/fails/executions", """{"input":{"n":1}}""");
                failedRun = (string)(await started.ReadJsonAsync())!["executionId"]!;
                await AppHost.WaitForAsync(setup.Address, AppHost.IssueToken(key, "reader"), failedRun, s => (string?)s["status"] == "Failed");
            }
        }

        path = route == "start" ? "/api/workflows/fails/executions" : $"/workflows/runs/{failedRun}/resume-from/prep";
        const string Body = """{"input":{"n":2}}""";
        await using (var armed = await AppProcess.StartAsync(database, key, new Dictionary<string, string?>(settings) { ["Faults:KillAt"] = FaultPoints.StartAfterCommit }))
        {
            using var admin = AppHost.BearerClient(armed.Address, AppHost.IssueToken(key, "admin", roles: ["admin"]));
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => PostKeyedAsync(admin, path, Body));
            Assert.True(await armed.WaitForExitAsync(TimeSpan.FromSeconds(30)), $"the process did not die after the start's commit:\n{armed.Output}");
        }

        await using (var restarted = await AppProcess.StartAsync(database, key, settings))
        {
            using var admin = AppHost.BearerClient(restarted.Address, AppHost.IssueToken(key, "admin", roles: ["admin"]));
            // Within the dead holder's hold the key is in flight (409, Retry-After); after it, the retry takes the key over.
            var retried = await Poll.UntilAsync(async () =>
            {
                using var response = await PostKeyedAsync(admin, path, Body);
                return response.StatusCode == HttpStatusCode.Conflict ? null : new Answer(response.StatusCode, await response.Content.ReadAsStringAsync());
            }, TimeSpan.FromSeconds(30), () => "the retry was still told the key is in flight");
            Assert.True(retried.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.OK, $"{retried.StatusCode}: {retried.Body}");

            await using var db = database.OpenContext();
            var runs = await db.Executions.AsNoTracking().Where(e => e.Id != failedRun).Select(e => e.Id).ToListAsync();
            var run = Assert.Single(runs); // the run the killed request committed, and no other
            var answered = System.Text.Json.Nodes.JsonNode.Parse(retried.Body)!;
            Assert.Equal(run, (string?)(route == "start" ? answered["executionId"] : answered["new_run"]!["id"]));
            if (route == "resume-from")
            {
                Assert.Equal(failedRun, await db.Executions.Where(e => e.Id == run).Select(e => e.ResumedFromExecutionId).SingleAsync());
            }

            // Once more: the kept answer, replayed.
            using var replay = await PostKeyedAsync(admin, path, Body);
            Assert.Equal("true", replay.Headers.GetValues(IdempotencyKeys.ReplayedHeader).Single());
            Assert.Equal(retried.Body, await replay.Content.ReadAsStringAsync());
            Assert.Equal(run, Assert.Single(await db.Executions.AsNoTracking().Where(e => e.Id != failedRun).Select(e => e.Id).ToListAsync()));
        }
    }

    private sealed record Answer(HttpStatusCode StatusCode, string Body);

    private static Task<HttpResponseMessage> PostKeyedAsync(HttpClient client, string path, string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = AppHost.Json(body) };
        request.Headers.Add(IdempotencyKeys.Header, "\"start-5d1c\"");
        return client.SendAsync(request);
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
