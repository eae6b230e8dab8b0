using System.Collections.Concurrent;
using System.Net;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Hub;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Tests.Hub;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Tests.Cluster;

/// <summary>
/// A real cluster: Debian's nginx in front of two app processes on one PostgreSQL database and one Redis. Answers go
/// through the balancer (so they alternate instances), one instance is killed with SIGKILL in the middle, and the run
/// must end exactly as without the fault: every accepted answer continued exactly once, every hub follower (reconnecting
/// through the balancer) with every event of its runs, in order, and the dead instance's leased work taken over within
/// seconds.
/// </summary>
public sealed class ClusterTests
{
    private const int Runs = 500;
    private const int Followed = 60;
    private const string Definition = """
        {"key":"cluster","start":"ask","nodes":[{"id":"ask","type":"approval","title":"Approve {{input.n}}","assignees":{"users":["bob"]}},
          {"id":"after","type":"set","values":{"by":"ask.actor"}}],"edges":[{"from":"ask","to":"after"}]}
        """;

    [Fact]
    public async Task Answers_spread_over_two_instances_one_killed_midway_each_continue_exactly_once_and_followers_see_every_event_in_order()
    {
        var redis = Environment.GetEnvironmentVariable(RedisBackplaneTests.RedisVariable);
        Assert.False(string.IsNullOrWhiteSpace(redis), $"{RedisBackplaneTests.RedisVariable} is not set. Run the tests with ./build/test.sh, which starts Redis and sets it.");
        await using var database = TestDatabase.Create(Provider.Postgres);
        var key = AppHost.NewSigningKey();
        var settings = new Dictionary<string, string?>
        {
            ["Redis:Configuration"] = redis,
            ["Workflows:Worker:LeaseDuration"] = "00:00:02", // how soon the survivor may take what the dead one had leased
            // How soon the survivor pushes again what the dead one committed but did not live to push (InstanceHeartbeat).
            ["Cluster:HeartbeatInterval"] = "00:00:00.500",
            ["Cluster:DeadAfter"] = "00:00:02",
            ["ForwardedHeaders:Enabled"] = "true",
            ["RateLimits:Enabled"] = "false",
        };
        // One after the other: the first applies the migrations.
        await using var doomed = await AppProcess.StartAsync(database, key, settings);
        await using var survivor = await AppProcess.StartAsync(database, key, settings);
        await using var balancer = await LoadBalancer.StartAsync([doomed.Address, survivor.Address]);
        using var admin = AppHost.BearerClient(balancer.Address, AppHost.IssueToken(key, "admin", roles: [Actor.AdminRole]));
        using (var created = await admin.PostJsonAsync("/api/workflows", Definition))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var runIds = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(Enumerable.Range(0, Runs), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (n, ct) =>
        {
            using var started = await admin.PostJsonAsync("/api/workflows/cluster/executions", "{\"input\":{\"n\":" + n + "}}");
            Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
            runIds.Add((string)(await started.ReadJsonAsync())!["executionId"]!);
        });
        var tasks = await Poll.UntilAsync(async () =>
        {
            await using var db = database.OpenContext();
            var pending = await db.Tasks.AsNoTracking().Where(t => t.Status == TaskStatuses.Pending).Select(t => new { t.ExecutionId, t.ResId }).ToListAsync();
            return pending.Count == Runs ? pending : null;
        }, TimeSpan.FromSeconds(120), () => "every run waiting at its approval");

        var followed = tasks.Take(Followed).Select(t => t.ExecutionId).ToList();
        var followers = new List<Follower>();
        foreach (var group in followed.Chunk(Followed / 3))
        {
            followers.Add(await Follower.StartAsync(balancer.Address, AppHost.IssueToken(key, "watcher"), group));
        }

        // Answer every task through the balancer, 16 at a time; the first instance dies after 150 accepted answers. An
        // answer whose request died with it is sent again: 202, or 409 naming bob if the lost one had been accepted.
        using var bob = AppHost.BearerClient(balancer.Address, AppHost.IssueToken(key, "bob"));
        var accepted = 0;
        var killed = new TaskCompletionSource<DateTime>();
        var servedBy = new ConcurrentDictionary<string, int>();
        await Parallel.ForEachAsync(tasks, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (task, ct) =>
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    using var response = await bob.PostJsonAsync($"/api/executions/{task.ResId}/resume", """{"decision":"Approved","comment":"ok"}""");
                    if (response.StatusCode == HttpStatusCode.Accepted
                        || (response.StatusCode == HttpStatusCode.Conflict && (string?)(await response.ReadJsonAsync())!["resolvedBy"] == "bob"))
                    {
                        servedBy.AddOrUpdate(string.Join(",", response.Headers.GetValues("X-Upstream")), 1, (_, c) => c + 1);
                        if (Interlocked.Increment(ref accepted) == 150)
                        {
                            await doomed.KillAsync();
                            killed.SetResult(DateTime.UtcNow);
                        }

                        return;
                    }

                    Assert.True(response.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout,
                        $"resume of {task.ResId}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
                }
                catch (HttpRequestException) when (attempt < 50)
                {
                }

                Assert.True(attempt < 50, $"resume of {task.ResId} never accepted");
                await Task.Delay(100, ct);
            }
        });
        var killedAt = await killed.Task;
        Assert.Equal(Runs, accepted);
        Assert.Contains(servedBy.Keys, k => k.Contains($":{doomed.Address.Port}", StringComparison.Ordinal)); // both served answers
        Assert.Contains(servedBy.Keys, k => k.Contains($":{survivor.Address.Port}", StringComparison.Ordinal));

        // The survivor finishes everything, the dead instance's leased continuations included.
        await Poll.UntilAsync(async () =>
        {
            await using var db = database.OpenContext();
            var completed = await db.Executions.CountAsync(e => e.Status == ExecutionStatuses.Completed);
            return completed == Runs ? "done" : null;
        }, TimeSpan.FromSeconds(90), () => "every run completed on the survivor");
        // Leases of 2 s: the dead one's continuations are taken over within seconds (the rest is the 350 answers after the kill).
        Assert.InRange(DateTime.UtcNow - killedAt, TimeSpan.Zero, TimeSpan.FromSeconds(60));

        await using (var db = database.OpenContext())
        {
            // Exactly once: one answer recorded and one continuation per run, whatever was in flight at the kill.
            var answers = await db.Audit.AsNoTracking().Where(a => a.Action == "Resumed").GroupBy(a => a.ResId).Select(g => g.Count()).ToListAsync();
            Assert.Equal(Runs, answers.Count);
            Assert.All(answers, count => Assert.Equal(1, count));
            var continuations = await db.NodeRuns.AsNoTracking().Where(r => r.NodeId == "after").GroupBy(r => r.ExecutionId).Select(g => g.Count()).ToListAsync();
            Assert.Equal(Runs, continuations.Count);
            Assert.All(continuations, count => Assert.Equal(1, count));
            Assert.Equal(0, await db.Queue.CountAsync(q => q.Status != QueueStatuses.Done));
            var outputs = await db.Executions.AsNoTracking().Select(e => e.OutputJson).ToListAsync();
            Assert.All(outputs, o => Assert.Contains("\"by\":\"bob\"", o!, StringComparison.Ordinal));

            // Every follower has every event of its runs, in order, whichever instance it was on when the other died.
            var expected = await db.ExecutionEvents.AsNoTracking().Where(e => followed.Contains(e.ExecutionId))
                .OrderBy(e => e.Sequence).Select(e => new { e.ExecutionId, e.Sequence, e.Type }).ToListAsync();
            foreach (var follower in followers)
            {
                foreach (var run in follower.Runs)
                {
                    var want = expected.Where(e => e.ExecutionId == run).Select(e => $"{e.Sequence}:{e.Type}").ToList();
                    Assert.Equal("completed", want[^1].Split(':')[1]);
                    var seen = await follower.UntilAsync(run, want.Count, TimeSpan.FromSeconds(30));
                    Assert.Equal(want, seen);
                }
            }
        }

        Assert.Contains(followers, f => f.Reconnects > 0); // a third of them sat on the killed instance, on average
        foreach (var follower in followers)
        {
            await follower.DisposeAsync();
        }
    }

    /// <summary>
    /// A hub client following some runs through the balancer, as the contract asks of one: events applied once and in
    /// order by sequence, and after a reconnect each run subscribed again after the last event it has.
    /// </summary>
    private sealed class Follower : IAsyncDisposable
    {
        private readonly object _gate = new();
        private readonly Dictionary<string, SortedDictionary<long, string>> _events;
        private readonly SemaphoreSlim _changed = new(0);
        private int _reconnects;

        private Follower(HubConnection connection, IReadOnlyList<string> runs)
        {
            Connection = connection;
            Runs = runs;
            _events = runs.ToDictionary(r => r, _ => new SortedDictionary<long, string>());
            connection.On<ExecutionEventMessage>(nameof(IExecutionClient.ExecutionEvent), Record);
            connection.Reconnected += async _ =>
            {
                Interlocked.Increment(ref _reconnects);
                await SubscribeAsync();
            };
        }

        public HubConnection Connection { get; }

        public IReadOnlyList<string> Runs { get; }

        public int Reconnects => Volatile.Read(ref _reconnects);

        public static async Task<Follower> StartAsync(Uri balancer, string token, IReadOnlyList<string> runs)
        {
            var connection = new HubConnectionBuilder()
                .WithUrl(new Uri(balancer, ExecutionHub.Path), o =>
                {
                    o.AccessTokenProvider = () => Task.FromResult<string?>(token);
                    // One WebSocket, no negotiate round trip: the balancer needs no stickiness for it.
                    o.SkipNegotiation = true;
                    o.Transports = HttpTransportType.WebSockets;
                })
                .WithAutomaticReconnect(new Always())
                .Build();
            var follower = new Follower(connection, runs);
            await connection.StartAsync();
            await follower.SubscribeAsync();
            return follower;
        }

        /// <summary>The run's events as "sequence:type", once it has <paramref name="count"/> of them in an unbroken line from 1.</summary>
        public async Task<List<string>> UntilAsync(string run, int count, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                lock (_gate)
                {
                    var events = _events[run];
                    if (Contiguous(events) >= count)
                    {
                        return [.. events.Where(e => e.Key <= count).Select(e => $"{e.Key}:{e.Value}")];
                    }
                }

                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !await _changed.WaitAsync(left))
                {
                    lock (_gate)
                    {
                        throw new TimeoutException($"run {run}: {string.Join(", ", _events[run].Select(e => $"{e.Key}:{e.Value}"))}; want {count}");
                    }
                }
            }
        }

        public async ValueTask DisposeAsync() => await Connection.DisposeAsync();

        private async Task SubscribeAsync()
        {
            foreach (var run in Runs)
            {
                long after;
                lock (_gate)
                {
                    after = Contiguous(_events[run]);
                }

                foreach (var e in await Connection.InvokeAsync<IReadOnlyList<ExecutionEventMessage>>("SubscribeExecution", run, after == 0 ? null : after))
                {
                    Record(e);
                }
            }
        }

        private void Record(ExecutionEventMessage e)
        {
            lock (_gate)
            {
                if (_events.TryGetValue(e.ExecutionId, out var events))
                {
                    events[e.Sequence] = e.Type;
                }
            }

            _changed.Release();
        }

        private static long Contiguous(SortedDictionary<long, string> events)
        {
            long last = 0;
            foreach (var sequence in events.Keys)
            {
                if (sequence != last + 1)
                {
                    break;
                }

                last = sequence;
            }

            return last;
        }

        private sealed class Always : IRetryPolicy
        {
            public TimeSpan? NextRetryDelay(RetryContext retryContext) =>
                retryContext.ElapsedTime < TimeSpan.FromSeconds(60) ? TimeSpan.FromMilliseconds(250) : null;
        }
    }
}
