using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ApprovalStudio.Web.Infrastructure.Telemetry;

/// <summary>
/// The app's own spans and instruments, named <see cref="Name"/> (an <see cref="ActivitySource"/> and a meter): the resume
/// pipeline and each worker step as spans, with a continuation's span a child of the request that queued it; resumes,
/// continuations, notifications and hub connections as metrics. Exported by whatever <c>Telemetry</c> configures.
/// </summary>
public sealed class AppTelemetry : IDisposable
{
    public const string Name = "ApprovalStudio";

    /// <summary>Spans of our own. Static: an <see cref="ActivitySource"/> costs nothing until something listens.</summary>
    public static readonly ActivitySource Source = new(Name);

    private readonly Meter _meter;
    private readonly Counter<long> _resumes;
    private readonly Histogram<double> _resumeDuration;
    private readonly Counter<long> _continuations;
    private readonly Histogram<double> _continuationLatency;
    private readonly Counter<long> _notifications;
    private readonly UpDownCounter<long> _hubConnections;

    public AppTelemetry(IMeterFactory meters, QueueGauges queue)
    {
        _meter = meters.Create(Name);
        _resumes = _meter.CreateCounter<long>("approvalstudio.resumes", "{resume}",
            "Answers to tasks (and resume-from requests) by channel and outcome: accepted, invalid, forbidden, not_found, conflict, already_resolved, gone.");
        _resumeDuration = _meter.CreateHistogram<double>("approvalstudio.resume.duration", "s",
            "From the answer reaching the pipeline to its outcome (for an accepted answer: committed, when the 202 goes out).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        _continuations = _meter.CreateCounter<long>("approvalstudio.continuations", "{step}",
            "Worker steps by kind (Start, Resume, Expire, StartFrom) and outcome (done, skipped, retried: the worker's own retry after a failed attempt, dead_lettered).");
        _continuationLatency = _meter.CreateHistogram<double>("approvalstudio.continuation.duration", "s",
            "From a queue item's creation (the 202, or a run's start) to its step committed.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] });
        _notifications = _meter.CreateCounter<long>("approvalstudio.notifications", "{message}",
            "Outbox rows handled by channel (email, slack) and status (sent, skipped, retrying, failed).");
        _hubConnections = _meter.CreateUpDownCounter<long>("approvalstudio.hub.connections", "{connection}",
            "Open connections to the execution hub (/hubs/executions) on this instance.");
        _meter.CreateObservableGauge("approvalstudio.queue.depth", queue.Depth, "{item}",
            "Queue items waiting for or held by a worker (pending or leased), cluster-wide (every instance reports the same: max() them), as last sampled.");
        _meter.CreateObservableGauge("approvalstudio.queue.age", queue.OldestAge, "s",
            "Age of the oldest queue item still waiting for or held by a worker, cluster-wide, as last sampled (0 when none).");
        _meter.CreateObservableGauge("approvalstudio.queue.dead_lettered", queue.DeadLettered, "{item}",
            "Queue items the worker gave up on, cluster-wide, until retried or dismissed on the Operations page (retention keeps them).");
    }

    public void Resumed(string channel, string outcome, TimeSpan elapsed)
    {
        var tags = new TagList { { "channel", channel }, { "outcome", outcome } };
        _resumes.Add(1, tags);
        _resumeDuration.Record(elapsed.TotalSeconds, tags);
    }

    /// <param name="latency">From the item's creation; null when the step did not finish it (retried).</param>
    public void Continued(string kind, string outcome, TimeSpan? latency)
    {
        var tags = new TagList { { "kind", kind }, { "outcome", outcome } };
        _continuations.Add(1, tags);
        if (latency is { } value)
        {
            _continuationLatency.Record(Math.Max(0, value.TotalSeconds), tags);
        }
    }

    public void Notified(string channel, string status) =>
        _notifications.Add(1, new TagList { { "channel", channel }, { "status", status } });

    public void HubConnected() => _hubConnections.Add(1);

    public void HubDisconnected() => _hubConnections.Add(-1);

    /// <summary>The current span's W3C <c>traceparent</c>, stored with the work it queues so the step continues its trace.</summary>
    public static string? TraceParent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C, Recorded: true } current ? current.Id : null;

    /// <summary>
    /// A span for work queued under <paramref name="traceParent"/>: its child when the parent parses, else a root.
    /// Null when nothing listens (tracing is off).
    /// </summary>
    public static Activity? StartQueued(string name, string? traceParent)
    {
        var parent = traceParent is not null && ActivityContext.TryParse(traceParent, null, out var context) ? context : default;
        return Source.StartActivity(name, ActivityKind.Consumer, parent);
    }

    public void Dispose() => _meter.Dispose();
}
