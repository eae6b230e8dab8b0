using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ApprovalStudio.Load;
using ApprovalStudio.Testing;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.Tokens;

if (args is ["--serve", var kind, var port, .. var rest])
{
    return await Baselines.ServeAsync(kind, int.Parse(port, System.Globalization.CultureInfo.InvariantCulture), rest.FirstOrDefault());
}

if (args.Contains("--inbox"))
{
    return await InboxScale.RunAsync(InboxOptions.Parse(args));
}

var options = LoadOptions.Parse(args);
var report = new LoadReport(options);
var providers = options.PostgresOnly ? new List<Provider>() : [Provider.Sqlite];
if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(TestDatabase.PostgresVariable)) && !options.SqliteOnly)
{
    providers.Add(Provider.Postgres);
}

Console.WriteLine($"== load harness: {options.Seconds}s per phase, {options.Tasks} tasks, {options.HubClients} hub clients; {string.Join(", ", providers)}");
await using (var bare = await Harness.ServeBaselineAsync("bare", null))
{
    await LoadGenerator.RunAsync("warm-up", bare.Address, 16, options.Warmup, null, Harness.Post(i => $"/resume/{i}", Harness.Approve), HttpStatusCode.Accepted);
    await LoadGenerator.RunAsync("warm-up", bare.Address, 16, options.Warmup, null, Harness.Get(i => $"/status/{i}"), HttpStatusCode.OK);
    report.Add("baseline", await Cpu.MeasureAsync(bare.ProcessId, () => LoadGenerator.RunAsync(
        "bare Kestrel: read JSON, 202", bare.Address, 16, options.Phase, null, Harness.Post(i => $"/resume/{i}", Harness.Approve), HttpStatusCode.Accepted)));
    foreach (var connections in new[] { 1, 16 })
    {
        report.Add("baseline", await Cpu.MeasureAsync(bare.ProcessId, () => LoadGenerator.RunAsync(
            "bare Kestrel GET", bare.Address, connections, options.Phase, null, Harness.Get(i => $"/status/{i}"), HttpStatusCode.OK)));
    }
}

foreach (var provider in providers)
{
    await Harness.RunProviderAsync(provider, options, report);
}

var written = await report.WriteAsync();
Console.WriteLine($"== report: {written}");
return 0;

/// <summary>The harness's settings (benchmarks/README.md).</summary>
public sealed record LoadOptions(int Seconds, int Tasks, int HubClients, int HubSamples, string Out, bool SqliteOnly, int WarmupSeconds, bool PostgresOnly = false)
{
    public TimeSpan Phase => TimeSpan.FromSeconds(Seconds);

    /// <summary>
    /// Untimed load of the same kind before each measured group: a server runs for hours, so what it costs while the JIT
    /// is still tiering its hot methods up (measured: 40 % of the app's CPU in the first resume phase) is not its rate.
    /// </summary>
    public TimeSpan Warmup => TimeSpan.FromSeconds(WarmupSeconds);

    public static LoadOptions Parse(string[] args)
    {
        string? Value(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        int Int(string name, int fallback) => Value(name) is { } v ? int.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;
        return new LoadOptions(
            Int("--seconds", 10), Int("--tasks", 40_000), Int("--hub-clients", 500), Int("--hub-samples", 200),
            Value("--out") ?? Path.Combine(Harness.RepositoryRoot(), "benchmarks", "reports"), args.Contains("--sqlite-only"),
            Int("--warmup", 5), args.Contains("--postgres-only"));
    }
}

/// <summary>The phases against the real app (a child process, default settings but rate limits off) on one provider.</summary>
public static class Harness
{
    public const string Approve = """{"decision":"Approved"}""";

    // One user starts every run and approves it: the node allows the requester (separation of duties would refuse it).
    private const string Workflow = """
        {"key":"bench","name":"Bench","start":"approve",
         "nodes":[{"id":"approve","type":"approval","title":"Approve {{input.n}}","assignees":{"users":["bench"]},"allowRequester":true},
                  {"id":"done","type":"set","values":{"result":"'paid'"}}],
         "edges":[{"from":"approve","to":"done","when":"approve.decision == 'Approved'"}]}
        """;

    public static async Task RunProviderAsync(Provider provider, LoadOptions options, LoadReport report)
    {
        var name = provider.ToString();
        Console.WriteLine($"== {name}");
        await using var database = TestDatabase.Create(provider);

        // The floor of a durable 202 on this database, at the connection counts the app is measured at.
        await using (var floor = await ServeBaselineAsync(provider == Provider.Sqlite ? "sqlite" : "postgres", FloorConnection(database)))
        {
            await LoadGenerator.RunAsync("warm-up", floor.Address, 16, options.Warmup, null, Post(i => $"/resume/{i}", Approve), HttpStatusCode.Accepted);
            foreach (var connections in new[] { 1, 16, 64 })
            {
                report.Add(name, await Cpu.MeasureAsync(floor.ProcessId, () => LoadGenerator.RunAsync(
                    "commit floor: one transaction per request", floor.Address, connections, options.Phase, null, Post(i => $"/resume/{i}", Approve), HttpStatusCode.Accepted)));
            }
        }

        var signingKey = AppHost.NewSigningKey();
        await using var app = await AppProcess.StartAsync(database, signingKey, new Dictionary<string, string?>
        {
            ["RateLimits:Enabled"] = "false",
            ["Workflows:Worker:PollInterval"] = "00:00:01", // the app's default (AppProcess sets 100 ms for tests)
            ["Logging:LogLevel:Default"] = "Warning",
        });
        var tokens = new TokenIssuer(new SymmetricSecurityKey(Convert.FromBase64String(signingKey)), TimeProvider.System);
        var token = tokens.Issue(new TokenRequest("acme", "bench") { Roles = ["admin"] });
        using var api = new HttpClient { BaseAddress = app.Address };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using (var created = await api.PostAsync("/api/workflows", new StringContent(Workflow, Encoding.UTF8, "application/json")))
        {
            created.EnsureSuccessStatusCode();
        }

        // An untimed warm-up of starts first, as every other phase has: without it the starts were measured in the app's
        // first seconds, with the JIT compiling and much of the path still in unoptimized code (a perf profile of report
        // 1724's starts: 11 % of the app's CPU in the JIT, two thirds of the samples under tier-0 frames).
        var warmStarts = await LoadGenerator.RunAsync("warm-up", app.Address, 16, options.Warmup, null,
            Post(i => "/api/workflows/bench/executions", """{"input":{"n":{0}}}""", token), HttpStatusCode.Accepted);
        var warm = warmStarts.Requests;
        await WaitAsync(database, db => db.Tasks.CountAsync(t => t.Status == TaskStatuses.Pending), warm, TimeSpan.FromMinutes(30));

        // Starts, end to end: from the first POST until every run waits at its approval.
        var total = options.Tasks + 2 * options.HubSamples;
        report.Add(name, await Cpu.MeasureAsync(app.ProcessId, async () =>
        {
            var clock = Stopwatch.StartNew();
            var posted = await Cpu.MeasureAsync(app.ProcessId, () => LoadGenerator.RunAsync("start runs (POST …/executions, 202)", app.Address, 16, TimeSpan.FromHours(1), total,
                Post(i => "/api/workflows/bench/executions", """{"input":{"n":{0}}}""", token), HttpStatusCode.Accepted));
            report.Add(name, posted);
            await WaitAsync(database, db => db.Tasks.CountAsync(t => t.Status == TaskStatuses.Pending), warm + total, TimeSpan.FromMinutes(30));
            return new Measurement("starts, until each run is suspended", 16, total, posted.Errors, clock.Elapsed.TotalSeconds, double.NaN, double.NaN);
        }));

        string[] resIds;
        string[] runIds;
        await using (var db = database.OpenContext())
        {
            resIds = [.. await db.Tasks.AsNoTracking().Where(t => t.Status == TaskStatuses.Pending).OrderBy(t => t.CreatedAt).Select(t => t.ResId).ToListAsync()];
            runIds = [.. await db.Executions.AsNoTracking().Select(e => e.Id).ToListAsync()];
        }

        // Decision → hub events first (their tasks are reserved), with 1 and then N connected hub clients.
        var hubTasks = new Queue<string>(resIds.Take(2 * options.HubSamples));
        foreach (var clients in new[] { 1, options.HubClients })
        {
            var (resumed, settled) = await HubLatencyAsync(app.Address, tokens, api, hubTasks, options.HubSamples, clients);
            report.Add(name, resumed);
            report.Add(name, settled);
        }

        // Resume 202s at 1, 16 and 64 connections, each on tasks of its own, after an untimed warm-up on tasks of its own.
        var pool = resIds.Skip(2 * options.HubSamples).ToArray();
        var warmup = await LoadGenerator.RunAsync("warm-up", app.Address, 16, options.Warmup, pool.Length / 4,
            Post(i => $"/api/executions/{pool[i]}/resume", Approve, token), HttpStatusCode.Accepted);
        var offset = warmup.Requests + warmup.Errors;

        // The warm-up's continuations first: the phases below measure their own answers' continuations, not its backlog.
        await WaitAsync(database, db => db.Executions.CountAsync(e => e.Status == ExecutionStatuses.Completed), offset + 2 * options.HubSamples, TimeSpan.FromMinutes(30));
        var firstResume = Stopwatch.StartNew();
        foreach (var connections in new[] { 1, 16, 64 })
        {
            var start = offset;
            var phase = await Cpu.MeasureAsync(app.ProcessId, () => LoadGenerator.RunAsync(
                "POST /api/executions/{resId}/resume", app.Address, connections, options.Phase, pool.Length - start,
                Post(i => $"/api/executions/{pool[start + i]}/resume", Approve, token), HttpStatusCode.Accepted, pool.Length - start <= 0 ? "no tasks left" : null));
            offset += phase.Requests + phase.Errors;
            report.Add(name, phase.Requests + phase.Errors >= pool.Length - start ? phase with { Note = "ran out of pending tasks before the time was up" } : phase);
        }

        // Continuations: the runs answered but not yet continued when the burst ended, until each completed.
        var answered = offset + 2 * options.HubSamples;
        int backlog;
        await using (var db = database.OpenContext())
        {
            backlog = answered - await db.Executions.CountAsync(e => e.Status == ExecutionStatuses.Completed);
        }

        report.Add(name, await Cpu.MeasureAsync(app.ProcessId, async () =>
        {
            var drain = Stopwatch.StartNew();
            await WaitAsync(database, db => db.Executions.CountAsync(e => e.Status == ExecutionStatuses.Completed), answered, TimeSpan.FromMinutes(30));
            return new Measurement("continuations after the burst, until each run completed", 0, backlog, 0, drain.Elapsed.TotalSeconds, double.NaN, double.NaN,
                $"backlog of {backlog} at the burst's end; all {answered} answered runs continued within {firstResume.Elapsed.TotalSeconds:0.0} s of the first resume");
        }));

        await LoadGenerator.RunAsync("warm-up", app.Address, 16, options.Warmup, null,
            Get(i => $"/api/executions/{runIds[i % runIds.Length]}/status", token), HttpStatusCode.OK);
        foreach (var connections in new[] { 1, 16 })
        {
            report.Add(name, await Cpu.MeasureAsync(app.ProcessId, () => LoadGenerator.RunAsync("GET /api/executions/{id}/status", app.Address, connections, options.Phase, null,
                Get(i => $"/api/executions/{runIds[i % runIds.Length]}/status", token), HttpStatusCode.OK)));
        }
    }

    /// <summary>
    /// POST resume → the run's <c>resumed</c> event, and → its <c>completed</c> event, on a SignalR client subscribed to
    /// the run, while <paramref name="clients"/> − 1 other clients watch the inbox (each resume is pushed to them too).
    /// </summary>
    private static async Task<(Measurement Resumed, Measurement Settled)> HubLatencyAsync(
        Uri address, TokenIssuer tokens, HttpClient api, Queue<string> tasks, int samples, int clients)
    {
        var others = new List<HubConnection>();
        for (var i = 1; i < clients; i++)
        {
            var other = Connect(address, tokens.Issue(new TokenRequest("acme", "bench") { Roles = ["admin"] }));
            await other.StartAsync();
            await other.InvokeAsync("SubscribeInbox");
            others.Add(other);
        }

        await using var watcher = Connect(address, tokens.Issue(new TokenRequest("acme", "bench") { Roles = ["admin"] }));
        var waiting = new Dictionary<string, (TaskCompletionSource Resumed, TaskCompletionSource Settled)>();
        watcher.On<ExecutionEventMessage>("ExecutionEvent", e =>
        {
            lock (waiting)
            {
                if (waiting.TryGetValue(e.ExecutionId, out var w))
                {
                    if (e.Type == ExecutionEventTypes.Resumed)
                    {
                        w.Resumed.TrySetResult();
                    }
                    else if (e.Type is ExecutionEventTypes.Completed or ExecutionEventTypes.Failed or ExecutionEventTypes.Suspended && w.Resumed.Task.IsCompleted)
                    {
                        w.Settled.TrySetResult();
                    }
                }
            }
        });
        await watcher.StartAsync();

        var toResumed = new List<double>();
        var toSettled = new List<double>();
        var errors = 0;
        var clock = Stopwatch.StartNew();
        for (var s = 0; s < samples && tasks.Count > 0; s++)
        {
            var resId = tasks.Dequeue();
            var run = (await api.GetFromJsonAsync<JsonObject>($"/api/tasks/{resId}"))?["executionId"]?.GetValue<string>()
                ?? throw new InvalidOperationException($"task {resId} has no run");
            var w = (Resumed: new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), Settled: new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            lock (waiting)
            {
                waiting[run] = w;
            }

            await watcher.InvokeAsync<JsonArray>("SubscribeExecution", run, (long?)null);
            var sent = Stopwatch.GetTimestamp();
            using var response = await api.PostAsync($"/api/executions/{resId}/resume", new StringContent(Approve, Encoding.UTF8, "application/json"));
            if (response.StatusCode != HttpStatusCode.Accepted)
            {
                errors++;
                continue;
            }

            try
            {
                await w.Resumed.Task.WaitAsync(TimeSpan.FromSeconds(30));
                toResumed.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
                await w.Settled.Task.WaitAsync(TimeSpan.FromSeconds(30));
                toSettled.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
            }
            catch (TimeoutException)
            {
                errors++;
            }

            await watcher.InvokeAsync("UnsubscribeExecution", run);
        }

        foreach (var other in others)
        {
            await other.DisposeAsync();
        }

        var resumed = toResumed.Order().ToArray();
        var settled = toSettled.Order().ToArray();
        var seconds = clock.Elapsed.TotalSeconds;
        return (
            new Measurement($"decision → `resumed` on the hub ({clients} hub clients)", 1, resumed.Length, errors, seconds,
                LoadGenerator.Percentile(resumed, 0.5), LoadGenerator.Percentile(resumed, 0.99), "one decision at a time"),
            new Measurement($"decision → `completed` on the hub ({clients} hub clients)", 1, settled.Length, errors, seconds,
                LoadGenerator.Percentile(settled, 0.5), LoadGenerator.Percentile(settled, 0.99), "one decision at a time"));
    }

    private static HubConnection Connect(Uri address, string token) => new HubConnectionBuilder()
        .WithUrl(new Uri(address, "/hubs/executions"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(token))
        .Build();

    public static async Task<AppProcess> ServeBaselineAsync(string kind, string? connection)
    {
        var port = FreePort();
        var address = new Uri($"http://127.0.0.1:{port}");
        var info = new ProcessStartInfo("dotnet", [typeof(Harness).Assembly.Location, "--serve", kind, port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. connection is null ? Array.Empty<string>() : [connection]])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        return await AppProcess.StartAsync(info, address, TimeSpan.FromSeconds(60));
    }

    public static Func<int, HttpRequestMessage> Post(Func<int, string> path, string body, string? token = null) => i => WithToken(
        new HttpRequestMessage(HttpMethod.Post, path(i))
        {
            Content = new StringContent(body.Replace("{0}", i.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal), Encoding.UTF8, "application/json"),
        },
        token);

    public static Func<int, HttpRequestMessage> Get(Func<int, string> path, string? token = null) => i => WithToken(new HttpRequestMessage(HttpMethod.Get, path(i)), token);

    private static HttpRequestMessage WithToken(HttpRequestMessage message, string? token)
    {
        if (token is not null)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return message;
    }

    public static string RepositoryRoot()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "ApprovalStudio.sln")))
        {
            folder = folder.Parent;
        }

        return folder?.FullName ?? Directory.GetCurrentDirectory();
    }

    // PostgreSQL: the server's own database (the app's does not exist until the app migrates it).
    private static string FloorConnection(TestDatabase database) => database.Provider == Provider.Sqlite
        ? $"Data Source={Path.Combine(database.Folder, "floor.db")}"
        : new Npgsql.NpgsqlConnectionStringBuilder(database.ConnectionString) { Database = "postgres" }.ConnectionString;

    private static async Task WaitAsync(TestDatabase database, Func<AppDbContext, Task<int>> count, int target, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        await using var db = database.OpenContext();
        while (await count(db) < target)
        {
            if (clock.Elapsed > limit)
            {
                throw new TimeoutException($"Still below {target} after {limit}.");
            }

            await Task.Delay(50);
        }
    }

    private static int FreePort()
    {
        using var socket = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }
}
