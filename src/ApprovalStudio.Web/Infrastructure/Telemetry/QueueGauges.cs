using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
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
/// a gauge's callback runs on the exporter's thread and may not wait for a database, so it reads the last sample.
/// </summary>
public sealed class QueueGauges(IServiceScopeFactory scopes, IOptions<TelemetryOptions> options, TimeProvider clock, ILogger<QueueGauges> log)
    : BackgroundService
{
    private volatile QueueStats _last = new(0, null, 0);

    public long Depth => _last.Depth;

    public double OldestAge => _last.OldestCreatedAt is { } oldest ? Math.Max(0, (clock.GetUtcNow().UtcDateTime - oldest).TotalSeconds) : 0;

    public long DeadLettered => _last.DeadLettered;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.QueueSampleInterval, clock);
        try
        {
            do
            {
                await SampleAsync(stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
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
            _last = await QueueStats.ReadAsync(scope.ServiceProvider.GetRequiredService<AppDbContext>(), null, stoppingToken);
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            TelemetryLog.SampleFailed(log, ex);
        }
    }
}

internal static partial class TelemetryLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Sampling the queue for its gauges failed; the last sample stays")]
    public static partial void SampleFailed(ILogger logger, Exception exception);
}
