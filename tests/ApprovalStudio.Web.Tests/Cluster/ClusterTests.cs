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
/// Email (a real SMTP server) and Slack (a stand-in) go out across the kill too: no Slack message twice, and an email twice
/// only if the dead instance held it, then with one Message-ID.
/// </summary>
public sealed class ClusterTests
{
    private const int Runs = 500;
    private const int Followed = 60;

    // bob answers first (his task's Slack message is replaced by its outcome, a chat.update sent across the kill); the
    // continuation asks carol (an email and a Slack message to her, sent across the kill); carol's answers end the runs.
    private const string Definition = """
        {"key":"cluster","start":"ask","nodes":[{"id":"ask","type":"approval","title":"Approve {{input.n}}","assignees":{"users":["bob"]}},
          {"id":"after","type":"set","values":{"by":"ask.actor"}},
          {"id":"file","type":"approval","title":"File {{input.n}}","assignees":{"users":["carol"]}}],
          "edges":[{"from":"ask","to":"after"},{"from":"after","to":"file"}]}
        """;

    [Fact]
    public async Task Answers_spread_over_two_instances_one_killed_midway_each_continue_exactly_once_no_message_twice_and_followers_see_every_event_in_order()
    {
        var redis = Environment.GetEnvironmentVariable(RedisBackplaneTests.RedisVariable);
        Assert.False(string.IsNullOrWhiteSpace(redis), $"{RedisBackplaneTests.RedisVariable} is not set. Run the tests with ./build/test.sh, which starts Redis and sets it.");
        await using var database = TestDatabase.Create(Provider.Postgres);
        await using var smtp = await SmtpSink.StartAsync();
        await using var slack = await SlackStandIn.StartAsync();
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
            // The channels, each a real local server: a message the dead instance had leased is sent by the survivor after 3 s.
            ["App:PublicBaseUrl"] = "http://approvals.cluster.test",
            ["Smtp:Host"] = "127.0.0.1",
            ["Smtp:Port"] = smtp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Smtp:Security"] = "None",
            ["Smtp:From"] = "approvals@studio.test",
            ["Slack:BotToken"] = SlackStandIn.BotToken,
            ["Slack:SigningSecret"] = SlackStandIn.SigningSecret,
            ["Slack:ApiBaseUrl"] = slack.ApiBaseUrl.ToString(),
            ["Notifications:PollInterval"] = "00:00:00.100",
            ["Notifications:LeaseDuration"] = "00:00:03",
        };
        // One after the other: the first applies the migrations.
        await using var doomed = await AppProcess.StartAsync(database, key, settings);
        await using var survivor = await AppProcess.StartAsync(database, key, settings);
        await using var balancer = await LoadBalancer.StartAsync([doomed.Address, survivor.Address]);
        using var admin = AppHost.BearerClient(balancer.Address, AppHost.IssueToken(key, "admin", roles: [Actor.AdminRole]));
        foreach (var (user, body) in new[]
        {
            ("bob", """{"name":"Bob","email":"bob@studio.test","slackUserId":"UBOB"}"""),
            ("carol", """{"name":"Carol","email":"carol@studio.test","slackUserId":"UCAROL"}"""),
        })
        {
            using var put = await admin.PutAsync($"/api/users/{user}", AppHost.Json(body));
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

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
        var tasks = await PendingTasksAsync(database, "ask");
        // bob's Slack messages are out before he answers, so each answer has one to replace.
        await TaskMessagesSentAsync(database, 2 * Runs);

        var followed = tasks.Take(Followed).Select(t => t.ExecutionId).ToList();
        var followers = new List<Follower>();
        foreach (var group in followed.Chunk(Followed / 3))
        {
            followers.Add(await Follower.StartAsync(balancer.Address, AppHost.IssueToken(key, "watcher"), group));
        }

        // bob answers every task through the balancer, 16 at a time; the first instance dies after 150 accepted answers,
        // while continuations ask carol and the outbox sends her emails and Slack messages and replaces bob's.
        var killed = new TaskCompletionSource<DateTime>();
        List<long> leasedByTheDead = [];
        var servedBy = await AnswerEveryAsync(balancer.Address, AppHost.IssueToken(key, "bob"), "bob", tasks, 150, async () =>
        {
            // Slack holds its answer to posts to carol until after the kill, so the instance dies with at least one of them in
            // flight: Slack gets the message, the sender never hears back.
            slack.HoldPostsTo = "UCAROL";
            await Poll.UntilAsync(async () =>
            {
                await using var db = database.OpenContext();
                var pid = $":{doomed.ProcessId}:";
                return await db.Notifications.AnyAsync(n => n.Channel == NotificationChannels.Slack && n.RecipientUserId == "carol"
                    && n.Status == NotificationStatuses.Leased && n.LeaseOwner!.Contains(pid)) ? "held" : null;
            }, TimeSpan.FromSeconds(30), () => "the instance to be killed never sent carol a Slack message");
            await doomed.KillAsync();
            killed.SetResult(DateTime.UtcNow);
            // What the dead instance held of the outbox: each may have reached its server before the kill and is sent again
            // after its lease (at least once). Read before the survivor's leases (3 s) could take them.
            await using var db = database.OpenContext();
            var owner = $":{doomed.ProcessId}:";
            leasedByTheDead = await db.Notifications.AsNoTracking().Where(n => n.Status == NotificationStatuses.Leased && n.LeaseOwner!.Contains(owner))
                .Select(n => n.Id).ToListAsync();
            slack.ReleaseHeldPost.SetResult();
        });
        var killedAt = await killed.Task;
        Assert.Contains(servedBy.Keys, k => k.Contains($":{doomed.Address.Port}", StringComparison.Ordinal)); // both served answers
        Assert.Contains(servedBy.Keys, k => k.Contains($":{survivor.Address.Port}", StringComparison.Ordinal));

        // The survivor goes on: the dead instance's leased continuations included, every run asks carol.
        var filing = await PendingTasksAsync(database, "file");
        // Leases of 2 s: the dead one's continuations are taken over within seconds (the rest is the 350 answers after the kill).
        Assert.InRange(DateTime.UtcNow - killedAt, TimeSpan.Zero, TimeSpan.FromSeconds(60));
        await TaskMessagesSentAsync(database, 4 * Runs); // carol's messages, before her answers make them moot
        await AnswerEveryAsync(balancer.Address, AppHost.IssueToken(key, "carol"), "carol", filing);
        await Poll.UntilAsync(async () =>
        {
            await using var db = database.OpenContext();
            var completed = await db.Executions.CountAsync(e => e.Status == ExecutionStatuses.Completed);
            return completed == Runs ? "done" : null;
        }, TimeSpan.FromSeconds(90), () => "every run completed on the survivor");

        await using (var db = database.OpenContext())
        {
            // Exactly once: one answer recorded and one continuation per task, whatever was in flight at the kill.
            var answers = await db.Audit.AsNoTracking().Where(a => a.Action == "Resumed").GroupBy(a => a.ResId).Select(g => g.Count()).ToListAsync();
            Assert.Equal(2 * Runs, answers.Count);
            Assert.All(answers, count => Assert.Equal(1, count));
            foreach (var node in new[] { "after", "file" })
            {
                var continuations = await db.NodeRuns.AsNoTracking().Where(r => r.NodeId == node).GroupBy(r => r.ExecutionId).Select(g => g.Count()).ToListAsync();
                Assert.Equal(Runs, continuations.Count);
                Assert.All(continuations, count => Assert.Equal(1, count));
            }

            Assert.Equal(0, await db.Queue.CountAsync(q => q.Status != QueueStatuses.Done));
            var outputs = await db.NodeRuns.AsNoTracking().Where(r => r.NodeId == "after").Select(r => r.OutputJson).ToListAsync();
            Assert.All(outputs, o => Assert.Contains("\"by\":\"bob\"", o!, StringComparison.Ordinal));
            outputs = await db.Executions.AsNoTracking().Select(e => e.OutputJson).ToListAsync();
            Assert.All(outputs, o => Assert.Contains("\"actor\":\"carol\"", o!, StringComparison.Ordinal));

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

        await NoMessageTwiceAsync(database, smtp, slack, leasedByTheDead);
    }

    /// <summary>
    /// Every message of the outbox went out, and none twice where the channel lets us tell: for each task its assignee's
    /// email and Slack message, and the Slack message's replacement once the task is answered. A row the dead instance held
    /// leased at the kill may have reached its channel before the kill. Its Slack message is looked for (by the row in its
    /// metadata) before it is posted again, so every Slack post is there exactly once. SMTP cannot be asked: such an email may
    /// arrive twice, with the same Message-ID (which mail systems collapse), and only for those rows; so may a Slack update
    /// (the same content over the same message).
    /// </summary>
    private static async Task NoMessageTwiceAsync(TestDatabase database, SmtpSink smtp, SlackStandIn slack, List<long> leasedByTheDead)
    {
        List<NotificationRecord> rows = [];
        await Poll.UntilAsync(async () =>
        {
            await using var db = database.OpenContext();
            rows = await db.Notifications.AsNoTracking().ToListAsync();
            return rows.All(n => n.Status is NotificationStatuses.Sent or NotificationStatuses.Skipped) ? "settled" : null;
        }, TimeSpan.FromSeconds(60), () => $"outbox rows not yet sent: {string.Join(", ", rows.Where(n => n.Status is not (NotificationStatuses.Sent or NotificationStatuses.Skipped)).Select(n => $"{n.Id} {n.Kind}/{n.Channel} {n.Status} {n.LastError}"))}");
        // Per run: bob's and carol's email, Slack message and its replacement. Nothing skipped.
        Assert.All(rows, n => Assert.Equal(NotificationStatuses.Sent, n.Status));
        Assert.Equal(6 * Runs, rows.Count);
        var byId = rows.ToDictionary(n => n.Id);
        var allowed = leasedByTheDead.ToHashSet();

        // Email: by the Message-ID each row always sends with (notification-{row}-...).
        var emails = smtp.Messages().GroupBy(m => RowOf(m.MessageId)).ToList();
        var emailRows = rows.Where(n => n.Channel == NotificationChannels.Email).Select(n => n.Id).Order().ToList();
        Assert.Equal(emailRows, emails.Select(g => g.Key).Order().ToList());
        foreach (var twice in emails.Where(g => g.Count() > 1))
        {
            var row = twice.Key;
            Assert.True(allowed.Contains(row), $"email of row {row} ({byId[row].Kind} to {byId[row].RecipientUserId}) sent {twice.Count()} times, though the dead instance did not hold it");
        }

        // Slack: one post per Slack row, exactly (found again rather than posted twice), and one update of each post. The dead
        // instance held at least one post to carol, which the survivor looked for before sending.
        Assert.Contains(leasedByTheDead, id => byId[id] is { Channel: NotificationChannels.Slack, Kind: NotificationKinds.TaskCreated });
        Assert.True(Volatile.Read(ref slack.Lookups) >= 1, "the survivor never looked for a message the dead instance may have posted");
        var posts = slack.Posted.Select(p => (Row: long.Parse((string)p["metadata"]!["event_payload"]!["notification"]!, System.Globalization.CultureInfo.InvariantCulture), Ts: (string)p["ts"]!)).ToList();
        var postRows = rows.Where(n => n.Channel == NotificationChannels.Slack && n.Kind == NotificationKinds.TaskCreated).Select(n => n.Id).Order().ToList();
        Assert.Equal(postRows, posts.Select(p => p.Row).Order().ToList());
        Assert.All(posts, p => Assert.EndsWith($"/{p.Ts}", byId[p.Row].ExternalId!, StringComparison.Ordinal)); // recorded as the one post
        var updates = slack.Updated.GroupBy(u => (string)u["ts"]!).ToList();
        Assert.Equal(posts.Select(p => p.Ts).Order(StringComparer.Ordinal), updates.Select(g => g.Key).Order(StringComparer.Ordinal));
        var updateRowOf = rows.Where(n => n.Kind == NotificationKinds.SlackUpdate).ToDictionary(n => n.ExternalId!.Split('/')[1], n => n.Id);
        foreach (var twice in updates.Where(g => g.Count() > 1))
        {
            Assert.True(allowed.Contains(updateRowOf[twice.Key]), $"Slack message {twice.Key} updated {twice.Count()} times, though the dead instance did not hold the update");
        }
    }

    /// <summary>The outbox row an email was sent for, by its Message-ID (notification-{row}-{made at}@domain).</summary>
    private static long RowOf(string? messageId)
    {
        Assert.NotNull(messageId);
        Assert.StartsWith("notification-", messageId, StringComparison.Ordinal);
        return long.Parse(messageId.Split('-')[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static Task TaskMessagesSentAsync(TestDatabase database, int count) =>
        Poll.UntilAsync(async () =>
        {
            await using var db = database.OpenContext();
            var sent = await db.Notifications.CountAsync(n => n.Kind == NotificationKinds.TaskCreated && n.Status == NotificationStatuses.Sent);
            return sent == count ? "sent" : null;
        }, TimeSpan.FromSeconds(120), () => $"{count} messages of new tasks sent");

    /// <summary>The tasks of <paramref name="node"/>, once every run waits there.</summary>
    private static Task<List<(string ExecutionId, string ResId)>> PendingTasksAsync(TestDatabase database, string node) =>
        Poll.UntilAsync(async () =>
        {
            await using var db = database.OpenContext();
            var pending = await db.Tasks.AsNoTracking().Where(t => t.Status == TaskStatuses.Pending && t.NodeId == node)
                .Select(t => new { t.ExecutionId, t.ResId }).ToListAsync();
            return pending.Count == Runs ? pending.Select(t => (t.ExecutionId, t.ResId)).ToList() : null;
        }, TimeSpan.FromSeconds(120), () => $"every run waiting at {node}");

    /// <summary>
    /// Answers every task through the balancer, 16 at a time, and calls <paramref name="kill"/> once <paramref name="killAfter"/>
    /// were accepted. An answer whose request died with an instance is sent again: 202, or 409 naming the user if the lost one
    /// had been accepted. Returns how many answers each instance accepted (by nginx's X-Upstream).
    /// </summary>
    private static async Task<ConcurrentDictionary<string, int>> AnswerEveryAsync(
        Uri balancer, string token, string user, List<(string ExecutionId, string ResId)> tasks, int killAfter = 0, Func<Task>? kill = null)
    {
        using var client = AppHost.BearerClient(balancer, token);
        var accepted = 0;
        var servedBy = new ConcurrentDictionary<string, int>();
        await Parallel.ForEachAsync(tasks, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (task, ct) =>
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    using var response = await client.PostJsonAsync($"/api/executions/{task.ResId}/resume", """{"decision":"Approved","comment":"ok"}""");
                    if (response.StatusCode == HttpStatusCode.Accepted
                        || (response.StatusCode == HttpStatusCode.Conflict && (string?)(await response.ReadJsonAsync())!["resolvedBy"] == user))
                    {
                        servedBy.AddOrUpdate(string.Join(",", response.Headers.GetValues("X-Upstream")), 1, (_, c) => c + 1);
                        if (Interlocked.Increment(ref accepted) == killAfter && kill is not null)
                        {
                            await kill();
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
        Assert.Equal(tasks.Count, accepted);
        return servedBy;
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
