using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Telemetry;
using ApprovalStudio.Web.Tests.Api;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace ApprovalStudio.Web.Tests.Infrastructure;

/// <summary>
/// Spans and metrics exist and link up: an answer's request, its pass through the pipeline and the worker step that
/// continues the run are one trace (the caller's own, when it sends a <c>traceparent</c>); the database work shows in it;
/// no span carries a task's capability; resumes, continuations, hub connections and the queue are measured; and Prometheus
/// can scrape it all on a real port. The exporters are OpenTelemetry's in-memory ones, added to the app's own providers.
/// Other test classes run at the same time in this process and their spans and meters are heard too, so every assertion
/// looks at this test's trace or counts at least what this test did.
/// </summary>
public sealed class TelemetryTests(TelemetryTests.TracedHosts hosts) : IClassFixture<TelemetryTests.TracedHosts>
{
    /// <summary>
    /// One traced host per database for the class, both started before either stops. EF Core's diagnostics and the span
    /// sources are process-wide: when one test's traced host had stopped before the next one started, the next one's trace
    /// had no EF Core spans (seen with 1.20.2-beta.1; an app has one provider for its life, only a test process starts several).
    /// </summary>
    public sealed class TracedHosts : IAsyncLifetime
    {
        // Each provider hears every span of the process (listeners are process-wide): one list per host, read by trace.
        private readonly List<Activity> _sqliteSpans = [];
        private readonly List<Activity> _postgresSpans = [];

        public AppHost Sqlite { get; private set; } = null!;
        public AppHost Postgres { get; private set; } = null!;

        public (AppHost Host, List<Activity> Spans) For(Provider provider) =>
            provider == Provider.Postgres ? (Postgres, _postgresSpans) : (Sqlite, _sqliteSpans);

        public async Task InitializeAsync()
        {
            Sqlite = await StartTracedAsync(Provider.Sqlite, _sqliteSpans);
            Postgres = await StartTracedAsync(Provider.Postgres, _postgresSpans);
            foreach (var host in new[] { Sqlite, Postgres })
            {
                await host.CreateWorkflowAsync(Flows.Review);
            }
        }

        public async Task DisposeAsync()
        {
            await Sqlite.DisposeAsync();
            await Postgres.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task An_answer_its_pipeline_pass_and_the_step_that_continues_the_run_are_one_trace(Provider provider)
    {
        var (host, spans) = hosts.For(provider);
        var executionId = await host.StartRunAsync("review-flow", """{"doc":"plan"}""");
        var resId = await host.WaitForTaskAsync(executionId);

        // The caller's own trace: the server continues it.
        var traceId = ActivityTraceId.CreateRandom();
        var callerSpan = ActivitySpanId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/executions/{resId}/resume")
        {
            Content = new StringContent("""{"acknowledged":true}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("traceparent", $"00-{traceId}-{callerSpan}-01");
        using var response = await OutsideCaller(host, "bob").SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");

        var trace = await Poll.UntilAsync(() =>
        {
            host.Services.GetRequiredService<TracerProvider>().ForceFlush();
            List<Activity> found;
            lock (spans)
            {
                found = [.. spans.Where(s => s.TraceId == traceId)];
            }

            return Task.FromResult(found.Any(s => s.DisplayName == "step Resume") ? found : null);
        }, TimeSpan.FromSeconds(20), () => "the trace never got its step span; spans heard: " + Describe(spans));

        var server = Assert.Single(trace, s => s.Kind == ActivityKind.Server);
        Assert.Equal(callerSpan, server.ParentSpanId);
        Assert.Equal("/api/executions/{executionResId}/resume", server.GetTagItem("http.route"));
        var resume = Assert.Single(trace, s => s.Source.Name == AppTelemetry.Name && s.DisplayName == "resume");
        Assert.Equal(server.SpanId, resume.ParentSpanId);
        Assert.Equal(("api", "accepted", executionId),
            (resume.GetTagItem("approvalstudio.channel"), resume.GetTagItem("approvalstudio.outcome"), resume.GetTagItem("approvalstudio.execution_id")));
        var step = Assert.Single(trace, s => s.DisplayName == "step Resume");
        Assert.Equal(resume.SpanId, step.ParentSpanId);
        Assert.Equal((executionId, "done"), (step.GetTagItem("approvalstudio.execution_id"), step.GetTagItem("approvalstudio.outcome")));
        Assert.True(step.StartTimeUtc >= resume.StartTimeUtc, "the step comes after the answer");

        // The database work of the step is in the trace, under the step (EF Core's spans; on PostgreSQL, Npgsql's too).
        Assert.Contains(trace, s => s.Source.Name.Contains("EntityFrameworkCore", StringComparison.Ordinal) || s.Source.Name == "Npgsql");
        Assert.Contains(trace, s => s.ParentSpanId == step.SpanId);

        // A task's resId is a capability: no span of the trace carries it.
        foreach (var span in trace)
        {
            foreach (var (key, value) in span.TagObjects)
            {
                Assert.False(value?.ToString()?.Contains(resId, StringComparison.Ordinal) ?? false, $"{span.DisplayName}'s {key} holds the resId");
            }
        }
    }

    [Fact]
    public async Task A_run_start_is_the_parent_of_the_runs_first_step()
    {
        var (host, spans) = hosts.For(Provider.Sqlite);
        using var started = await OutsideCaller(host, "starter").PostAsync("/api/workflows/review-flow/executions",
            new StringContent("""{"input":{"doc":"plan"}}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var executionId = (string)JsonNode.Parse(await started.Content.ReadAsStringAsync())!["executionId"]!;
        await host.WaitForTaskAsync(executionId);

        var step = await Poll.UntilAsync(() =>
        {
            host.Services.GetRequiredService<TracerProvider>().ForceFlush();
            lock (spans)
            {
                return Task.FromResult(spans.FirstOrDefault(s => s.DisplayName == "step Start" && (string?)s.GetTagItem("approvalstudio.execution_id") == executionId));
            }
        }, TimeSpan.FromSeconds(20), () => "the start's step span never came");
        Activity start;
        lock (spans)
        {
            start = spans.Single(s => s.SpanId == step.ParentSpanId);
        }

        Assert.Equal((ActivityKind.Server, "/api/workflows/{key}/executions"), (start.Kind, start.GetTagItem("http.route")));
    }

    /// <summary>An instance whose gauges nobody reads (no exporter, no scrape) never polls the queue for them; the first read wakes it.</summary>
    [Fact]
    public async Task The_queue_is_sampled_only_while_something_reads_its_gauges()
    {
        await using var host = await AppHost.StartAsync(Provider.Sqlite, new Dictionary<string, string?> { ["Telemetry:QueueSampleInterval"] = "00:00:00.100" });
        await host.CreateWorkflowAsync(Flows.Review);
        await host.WaitForTaskAsync(await host.StartRunAsync("review-flow", """{"doc":"plan"}"""));
        var gauges = host.Services.GetRequiredService<QueueGauges>();
        await Task.Delay(TimeSpan.FromSeconds(1)); // ten intervals

        Assert.Equal(0, gauges.Samples);

        using var deadLettered = new MetricCollector<long>(host.Services.GetRequiredService<IMeterFactory>(), AppTelemetry.Name, "approvalstudio.queue.dead_lettered");
        deadLettered.RecordObservableInstruments();
        Assert.Null(deadLettered.LastMeasurement); // no sample yet: nothing, rather than a made-up 0 or an old figure
        await Poll.UntilAsync(() => gauges.Samples >= 2 ? "sampling" : null, TimeSpan.FromSeconds(10), () => $"{gauges.Samples} samples after a read");
        deadLettered.RecordObservableInstruments();
        Assert.Equal(0, deadLettered.LastMeasurement?.Value);
    }

    [Fact]
    public async Task Resumes_continuations_the_queue_and_hub_connections_are_measured()
    {
        var metrics = new List<MetricSnapshot>();
        // Metrics only: a tracer provider here, disposed while the class' traced hosts run, would stop their EF Core spans.
        await using var host = await AppHost.StartAsync(Provider.Sqlite, new Dictionary<string, string?> { ["Telemetry:QueueSampleInterval"] = "00:00:00.200" },
            services: s => s.ConfigureOpenTelemetryMeterProvider(m => m.AddInMemoryExporter(new LockedCollection<MetricSnapshot>(metrics))));
        // The exporter hears every host of this process (meters are picked by name); these collectors hear this host's only.
        var meters = host.Services.GetRequiredService<IMeterFactory>();
        using var resumes = new MetricCollector<long>(meters, AppTelemetry.Name, "approvalstudio.resumes");
        using var resumeDuration = new MetricCollector<double>(meters, AppTelemetry.Name, "approvalstudio.resume.duration");
        using var continuations = new MetricCollector<long>(meters, AppTelemetry.Name, "approvalstudio.continuations");
        using var continuationDuration = new MetricCollector<double>(meters, AppTelemetry.Name, "approvalstudio.continuation.duration");
        using var hubConnections = new MetricCollector<long>(meters, AppTelemetry.Name, "approvalstudio.hub.connections");
        using var queueDepth = new MetricCollector<long>(meters, AppTelemetry.Name, "approvalstudio.queue.depth");

        await host.CreateWorkflowAsync(Flows.Review);
        var executionId = await host.StartRunAsync("review-flow", """{"doc":"plan"}""");
        var resId = await host.WaitForTaskAsync(executionId);
        var hub = await HubClient.ConnectAsync(host.Address, host.Token("watcher"));
        var bob = host.Client(host.Token("bob"));
        using (var refused = await bob.PostAsync($"/api/executions/{resId}/resume", new StringContent("""{"acknowledged":"yes"}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }

        using (var accepted = await bob.PostAsync($"/api/executions/{resId}/resume", new StringContent("""{"acknowledged":true}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
        await Poll.UntilAsync(() => Count(continuations, ("kind", "Resume"), ("outcome", "done")) == 1 ? "done" : null,
            TimeSpan.FromSeconds(10), () => "the resume's step was not counted");

        Assert.Equal(1, Count(resumes, ("channel", "api"), ("outcome", "accepted")));
        Assert.Equal(1, Count(resumes, ("channel", "api"), ("outcome", "invalid")));
        Assert.Equal(2, resumes.GetMeasurementSnapshot().Count);
        Assert.All(resumeDuration.GetMeasurementSnapshot(), m => Assert.InRange(m.Value, 0, 30));
        Assert.Equal(1, Count(continuations, ("kind", "Start"), ("outcome", "done")));
        Assert.Equal(2, continuationDuration.GetMeasurementSnapshot().Count);
        Assert.Equal(1, hubConnections.GetMeasurementSnapshot().Sum(m => m.Value));
        await hub.DisposeAsync();
        await Poll.UntilAsync(() => hubConnections.GetMeasurementSnapshot().Sum(m => m.Value) == 0 ? "closed" : null,
            TimeSpan.FromSeconds(10), () => "the closed hub connection is still counted");
        await Poll.UntilAsync(() =>
        {
            queueDepth.RecordObservableInstruments();
            return queueDepth.LastMeasurement is { Value: 0 } ? "empty" : null;
        }, TimeSpan.FromSeconds(10), () => "the queue gauge never read the empty queue");

        // And they leave through OpenTelemetry's pipeline, with ASP.NET Core's own.
        var provider = host.Services.GetRequiredService<MeterProvider>();
        var exported = await Poll.UntilAsync(() =>
        {
            lock (metrics)
            {
                metrics.Clear();
            }

            provider.ForceFlush();
            lock (metrics)
            {
                List<MetricSnapshot> now = [.. metrics];
                return now.Any(m => m.Name == "approvalstudio.continuations") ? now : null;
            }
        }, TimeSpan.FromSeconds(20), () => "nothing was exported");
        foreach (var name in new[] { "approvalstudio.resumes", "approvalstudio.resume.duration", "approvalstudio.continuation.duration",
                     "approvalstudio.queue.depth", "approvalstudio.queue.age", "approvalstudio.queue.dead_lettered", "http.server.request.duration" })
        {
            Assert.Contains(exported, m => m.Name == name);
        }
    }

    [Fact]
    public async Task The_queue_gauges_read_what_waits_in_the_queue()
    {
        // No worker: the start's queue item stays, and the gauges must find it (an empty queue reads 0 before any sample).
        await using var host = await AppHost.StartAsync(Provider.Sqlite, new Dictionary<string, string?>
        {
            ["Telemetry:QueueSampleInterval"] = "00:00:00.200",
            ["Workflows:Worker:Enabled"] = "false",
        });
        var meters = host.Services.GetRequiredService<IMeterFactory>();
        using var depth = new MetricCollector<long>(meters, AppTelemetry.Name, "approvalstudio.queue.depth");
        using var age = new MetricCollector<double>(meters, AppTelemetry.Name, "approvalstudio.queue.age");
        await host.CreateWorkflowAsync(Flows.Review);
        await host.StartRunAsync("review-flow", """{"doc":"plan"}""");

        await Poll.UntilAsync(() =>
        {
            depth.RecordObservableInstruments();
            age.RecordObservableInstruments();
            return depth.LastMeasurement is { Value: 1 } && age.LastMeasurement is { Value: > 0 } ? "sampled" : null;
        }, TimeSpan.FromSeconds(10), () => $"depth {depth.LastMeasurement?.Value}, age {age.LastMeasurement?.Value}");
    }

    private static long Count(MetricCollector<long> collector, params (string Key, string Value)[] tags) =>
        collector.GetMeasurementSnapshot().Where(m => tags.All(t => m.Tags.TryGetValue(t.Key, out var v) && Equals(v, t.Value))).Sum(m => m.Value);

    [Fact]
    public async Task Prometheus_scrapes_the_metrics_without_signing_in_on_its_port_only_and_not_unless_enabled()
    {
        var port = AppProcess.FreePort();
        await using var host = await AppHost.StartAsync(Provider.Sqlite, new Dictionary<string, string?>
        {
            ["Telemetry:Prometheus:Enabled"] = "true",
            ["Telemetry:Prometheus:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Telemetry:QueueSampleInterval"] = "00:00:00.200",
        }, port: port);
        await host.CreateWorkflowAsync(Flows.Review);
        var executionId = await host.StartRunAsync("review-flow", """{"doc":"plan"}""");
        var resId = await host.WaitForTaskAsync(executionId);
        using (var accepted = await host.Client(host.Token("bob")).PostAsync($"/api/executions/{resId}/resume",
                   new StringContent("""{"acknowledged":true}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        var text = await Poll.UntilAsync(async () =>
        {
            using var response = await host.Anonymous.GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType);
            var body = await response.Content.ReadAsStringAsync();
            // One scrape with every series below. The queue's gauges appear from the scrape after the first (that one wakes
            // their sampler), and the exporter hears every host of this process, whose meters come and go as classes end.
            string[] wanted = ["approvalstudio_continuations_total", "approvalstudio_resumes_total{", "channel=\"api\"",
                "approvalstudio_resume_duration_seconds_bucket{", "approvalstudio_queue_depth", "http_server_request_duration_seconds_bucket{"];
            return wanted.All(w => body.Contains(w, StringComparison.Ordinal)) ? body : null;
        }, TimeSpan.FromSeconds(20), () => "/metrics never showed the resume, the continuation, the queue's depth and the requests in one scrape");
        Assert.Contains("approvalstudio_resumes_total{", text);
        Assert.Contains("channel=\"api\"", text);
        Assert.Contains("approvalstudio_resume_duration_seconds_bucket{", text);
        Assert.Contains("approvalstudio_queue_depth", text);
        Assert.Contains("http_server_request_duration_seconds_bucket{", text);

        // On another port only: this port does not serve it, whatever Host the caller claims.
        var elsewhere = AppProcess.FreePort();
        await using var fenced = await AppHost.StartAsync(Provider.Sqlite, new Dictionary<string, string?>
        {
            ["Telemetry:Prometheus:Enabled"] = "true",
            ["Telemetry:Prometheus:Port"] = elsewhere.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        using var spoofed = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        spoofed.Headers.Host = $"metrics.internal:{elsewhere}";
        using (var hidden = await fenced.Anonymous.SendAsync(spoofed))
        {
            Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
        }

        // Off unless enabled.
        await using var plain = await AppHost.StartAsync(Provider.Sqlite);
        using var off = await plain.Anonymous.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.NotFound, off.StatusCode);
    }

    /// <summary>
    /// A caller in another process. This process' own HttpClient spans are heard by the app's listener and would put their
    /// trace (sampled out by the app: a client span with no parent) in the request's <c>traceparent</c>.
    /// </summary>
    private static HttpClient OutsideCaller(AppHost host, string user)
    {
        var client = new HttpClient(new SocketsHttpHandler { ActivityHeadersPropagator = null }) { BaseAddress = host.Address };
        client.DefaultRequestHeaders.Authorization = new("Bearer", host.Token(user));
        return client;
    }

    private static string Describe(List<Activity> spans)
    {
        lock (spans)
        {
            return string.Join("\n", spans.Select(s => $"{s.TraceId}/{s.SpanId}<-{s.ParentSpanId} {s.Source.Name} {s.DisplayName}"));
        }
    }

    private static Task<AppHost> StartTracedAsync(Provider provider, List<Activity> spans) =>
        AppHost.StartAsync(provider, new Dictionary<string, string?> { ["Telemetry:Tracing"] = "true" },
            services: s => s.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(new LockedCollection<Activity>(spans))));
}
