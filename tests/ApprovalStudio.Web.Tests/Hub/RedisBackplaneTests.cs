using System.Net;
using ApprovalStudio.Web.Tests.Api;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalStudio.Web.Tests.Hub;

/// <summary>Two app instances on one database and a real Redis server: hub messages cross instances.</summary>
public sealed class RedisBackplaneTests
{
    public const string RedisVariable = "APPROVALSTUDIO_TEST_REDIS";

    [Fact]
    public async Task A_resume_accepted_by_instance_A_is_seen_by_a_client_connected_to_instance_B()
    {
        await using var instances = await TwoInstances.StartAsync();
        var (a, b) = (instances.A, instances.B);
        await a.CreateWorkflowAsync(Flows.Review);
        var executionId = await a.StartRunAsync("review-flow", """{"doc":"spec"}""");
        var resId = await a.WaitForTaskAsync(executionId);

        await using var client = await HubClient.ConnectAsync(b.Address, b.Token("zoe", ["ops"]));
        await client.SubscribeAsync(executionId);
        await client.SubscribeInboxAsync();
        using (var accepted = await a.Client(a.Token("bob")).PostJsonAsync($"/api/executions/{resId}/resume", """{"acknowledged":true}"""))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        var events = await client.WaitForAsync(e => e.Any(x => x.Type == "completed"));
        Assert.Equal(["started", "nodeStarted", "suspended", "resumed", "nodeCompleted", "nodeStarted", "nodeCompleted", "completed"], events.Select(e => e.Type));
        await client.WaitForInboxAsync(m => m.Any(x => x.Kind == "resolved" && x.Task.ResId == resId));
    }

    [Fact]
    public async Task The_inbox_circuits_of_instance_B_hear_of_tasks_and_events_from_the_worker_on_instance_A()
    {
        await using var instances = await TwoInstances.StartAsync();
        var (a, b) = (instances.A, instances.B);
        var heard = new List<string>();
        var events = b.Services.GetRequiredService<Web.Features.Executions.ExecutionEvents>();
        events.TaskChanged += c => { lock (heard) { heard.Add($"task:{(c.Created ? "created" : "resolved")}:{c.Task.Title}"); } };
        events.ExecutionEvent += e => { lock (heard) { heard.Add($"event:{e.Type}"); } };

        await a.CreateWorkflowAsync(Flows.Review);
        var executionId = await a.StartRunAsync("review-flow", """{"doc":"memo"}""");
        var resId = await a.WaitForTaskAsync(executionId);
        using (await a.Client(a.Token("bob")).PostJsonAsync($"/api/executions/{resId}/resume", """{"acknowledged":true}""")) { }
        await a.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            lock (heard)
            {
                if (heard.Contains("event:completed"))
                {
                    break;
                }
            }

            await Task.Delay(50);
        }

        lock (heard)
        {
            Assert.Contains("task:created:Look at memo", heard);
            Assert.Contains("task:resolved:Look at memo", heard);
            Assert.Contains("event:started", heard);
            Assert.Contains("event:completed", heard);
        }
    }

    [Fact]
    public async Task While_redis_is_unreachable_answers_and_runs_go_on_and_a_client_catches_up_by_sequence_once_it_is_back()
    {
        var redis = Environment.GetEnvironmentVariable(RedisVariable)!.Split(':');
        await using var proxy = TcpProxy.Start(redis[0], int.Parse(redis[1], System.Globalization.CultureInfo.InvariantCulture));
        await using var instances = await TwoInstances.StartAsync($"127.0.0.1:{proxy.Port}");
        var (a, b) = (instances.A, instances.B);
        await a.CreateWorkflowAsync("""
            {"key":"two-steps","start":"first",
             "nodes":[{"id":"first","type":"review","title":"First","assignees":{"users":["bob"]}},
                      {"id":"second","type":"review","title":"Second","assignees":{"users":["bob"]}}],
             "edges":[{"from":"first","to":"second"}]}
            """);
        var executionId = await a.StartRunAsync("two-steps");
        var first = await a.WaitForTaskAsync(executionId, "first");
        await using var client = await HubClient.ConnectAsync(b.Address, b.Token("bob"));
        await client.SubscribeAsync(executionId);
        await client.SubscribeInboxAsync();
        var bob = a.Client(a.Token("bob"));

        proxy.Cut();
        using (var accepted = await bob.PostJsonAsync($"/api/executions/{first}/resume", """{"acknowledged":true}"""))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        var second = await a.WaitForTaskAsync(executionId, "second");
        var missed = client.LastSequence;

        // Back: the backplane reconnects by itself (new runs' tasks reach B's client's inbox again), and the run's next events
        // reach B's client live, after a gap it cannot apply.
        proxy.Restore();
        await Poll.UntilAsync(async () =>
        {
            var before = client.InboxMessages.Count;
            await a.StartRunAsync("two-steps");
            await Task.Delay(500);
            return client.InboxMessages.Count > before ? "crossed" : null;
        }, TimeSpan.FromSeconds(60), () => "no message crossed Redis after it came back");
        var pushed = client.Pushed;
        using (var accepted = await bob.PostJsonAsync($"/api/executions/{second}/resume", """{"acknowledged":true}"""))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        await a.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
        await Poll.UntilAsync(() => client.Pushed > pushed ? "pushed" : null, TimeSpan.FromSeconds(10), () => "the run's next events did not reach B's client");

        // The client sees the gap and asks for what it missed after its last sequence.
        await client.SubscribeAsync(executionId, client.LastSequence);
        var events = await client.WaitForAsync(e => e.Any(x => x.Type == "completed"));
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.True(events.Count > missed);
        Assert.Equal(2, events.Count(e => e.Type == "resumed"));
    }

    /// <summary>
    /// Two instances on one SQLite file and the test Redis server. A runs the worker; B only serves
    /// clients, so whatever reaches B's clients came from A through Redis.
    /// </summary>
    private sealed class TwoInstances : IAsyncDisposable
    {
        private TwoInstances(TestDatabase database, AppHost a, AppHost b) => (Database, A, B) = (database, a, b);

        public TestDatabase Database { get; }
        public AppHost A { get; }
        public AppHost B { get; }

        public static async Task<TwoInstances> StartAsync(string? redisAddress = null)
        {
            var redis = redisAddress ?? Environment.GetEnvironmentVariable(RedisVariable);
            Assert.False(string.IsNullOrWhiteSpace(redis), $"{RedisVariable} is not set. Run the tests with ./build/test.sh, which starts Redis and sets it.");
            var database = TestDatabase.Create(Provider.Sqlite);
            var key = AppHost.NewSigningKey();
            var backplane = new Dictionary<string, string?> { ["Redis:Configuration"] = redis };
            var a = await AppHost.StartAsync(database: database, signingKey: key, settings: backplane);
            var b = await AppHost.StartAsync(database: database, signingKey: key, settings: new Dictionary<string, string?>(backplane)
            {
                ["Workflows:Worker:Enabled"] = "false",
            });
            return new TwoInstances(database, a, b);
        }

        public async ValueTask DisposeAsync()
        {
            await B.DisposeAsync();
            await A.DisposeAsync();
            await Database.DisposeAsync();
        }
    }
}
