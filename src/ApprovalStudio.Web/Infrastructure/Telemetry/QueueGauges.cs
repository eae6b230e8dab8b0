using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Infrastructure.Telemetry;

/// <summary>The queue's depth and age now: items waiting or held, the oldest one's creation, items dead-lettered.</summary>
public sealed record QueueStats(long Depth, DateTime? OldestCreatedAt, long DeadLettered)
{
    /// <summary>Reads them (cluster-wide, or of <paramref name="tenantId"/>'s runs only), each through the queue's status index.</summary>
    public static async Task<QueueStats> ReadAsync(AppDbContext db, string? tenantId, CancellationToken cancellationToken)
    {
        var items = db.Queue.AsNoTracking();
        if (tenantId is not null)
        {
            items = items.Where(q => db.Executions.Any(e => e.Id == q.ExecutionId && e.TenantId == tenantId));
        }

        var open = items.Where(q => q.Status == QueueStatuses.Pending || q.Status == QueueStatuses.Leased);
        var depth = await open.LongCountAsync(cancellationToken);
        var oldest = depth == 0 ? null : await open.MinAsync(q => (DateTime?)q.CreatedAt, cancellationToken);
        var dead = await items.LongCountAsync(q => q.Status == QueueStatuses.DeadLettered, cancellationToken);
        return new QueueStats(depth, oldest, dead);
    }
}

/// <summary>
/// Samples the queue for the <c>approvalstudio.queue.*</c> gauges every <see cref="TelemetryOptions.QueueSampleInterval"/>:
/// a gauge's callback runs on the exporter's thread and may not wait for a database, so it reads the last sample. It samples
/// only while something reads the gauges (an exporter, a scrape, a listener: read in the last <see cref="ReaderGone"/>), so
/// an instance without metrics never polls the database for them; the first read after a quiet spell wakes it at once.
/// </summary>
public sealed class QueueGauges(IServiceScopeFactory scopes, IOptions<TelemetryOptions> options, TimeProvider clock, ILogger<QueueGauges> log)
    : BackgroundService
{
    /// <summary>How long after the last read of a gauge the sampling goes on (longer than any exporter's or scraper's interval).</summary>
    public static readonly TimeSpan ReaderGone = TimeSpan.FromMinutes(15);

    private readonly SemaphoreSlim _wake = new(0, 1);
    private volatile Sample? _last;
    private long _readAt = long.MinValue;
    private int _samples;

    private sealed record Sample(QueueStats Stats, long At);

    /// <summary>Queue items waiting or held; no measurement while the last sample is stale (the first read after a quiet spell).</summary>
    public IEnumerable<Measurement<long>> Depth() => Read() is { } s ? [new(s.Depth)] : [];

    /// <summary>Age of the oldest item waiting or held, in seconds (0 when none); no measurement while the last sample is stale.</summary>
    public IEnumerable<Measurement<double>> OldestAge() => Read() is { } s
        ? [new(s.OldestCreatedAt is { } oldest ? Math.Max(0, (clock.GetUtcNow().UtcDateTime - oldest).TotalSeconds) : 0)]
        : [];

    /// <summary>Items dead-lettered; no measurement while the last sample is stale.</summary>
    public IEnumerable<Measurement<long>> DeadLettered() => Read() is { } s ? [new(s.DeadLettered)] : [];

    /// <summary>How many times the queue was read; for tests.</summary>
    internal int Samples => Volatile.Read(ref _samples);

    /// <summary>
    /// The last sample, if it is recent (three intervals); null otherwise, so that a gauge reports nothing rather than an old
    /// depth, or an age reckoned from an item long gone. The first read in a while wakes the sampler.
    /// </summary>
    private QueueStats? Read()
    {
        var now = clock.GetTimestamp();
        var before = Interlocked.Exchange(ref _readAt, now);
        if (before == long.MinValue || clock.GetElapsedTime(before, now) > ReaderGone)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
            }
            catch (ObjectDisposedException)
            {
                // Read while the host stops.
            }
        }

        return _last is { } last && clock.GetElapsedTime(last.At, now) <= 3 * options.Value.QueueSampleInterval ? last.Stats : null;
    }

    private bool BeingRead(long now) => Interlocked.Read(ref _readAt) is var at && at != long.MinValue && clock.GetElapsedTime(at, now) <= ReaderGone;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (BeingRead(clock.GetTimestamp()))
                {
                    await SampleAsync(stoppingToken);
                }

                // The next tick, or sooner when a reader comes back after a quiet spell.
                await _wake.WaitAsync(options.Value.QueueSampleInterval, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task SampleAsync(CancellationToken stoppingToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            _last = new Sample(await QueueStats.ReadAsync(scope.ServiceProvider.GetRequiredService<AppDbContext>(), null, stoppingToken), clock.GetTimestamp());
            Interlocked.Increment(ref _samples);
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            TelemetryLog.SampleFailed(log, ex);
        }
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }
}

internal static partial class TelemetryLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Sampling the queue for its gauges failed; the last sample stays")]
    public static partial void SampleFailed(ILogger logger, Exception exception);
}
