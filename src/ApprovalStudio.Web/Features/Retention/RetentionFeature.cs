using System.ComponentModel.DataAnnotations;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.Retention;

/// <summary>The <c>Retention</c> section: how long finished bookkeeping rows are kept.</summary>
public sealed class RetentionOptions
{
    public const string SectionName = "Retention";

    /// <summary>Age after which finished rows go; <c>00:00:00</c> keeps everything.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "3650.00:00:00")]
    public TimeSpan KeepFor { get; set; } = TimeSpan.FromDays(30);

    [Range(typeof(TimeSpan), "00:00:00.100", "1.00:00:00")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Rows deleted per statement, so that a first sweep over a large backlog does not hold the database for long.</summary>
    [Range(1, 100_000)]
    public int BatchSize { get; set; } = 1000;
}

public static class RetentionFeature
{
    public static IHostApplicationBuilder AddRetention(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RetentionOptions>().BindConfiguration(RetentionOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddHostedService<RetentionSweeper>();
        return builder;
    }
}

/// <summary>
/// Deletes what only the machinery needed, once it is older than <see cref="RetentionOptions.KeepFor"/>: queue items
/// that are done, notifications that were sent or skipped, and the heartbeat rows of instances that ended; and idempotency
/// keys past their own expiry. What people
/// and auditors read stays: runs, tasks, node runs, the audit, dead-lettered items and failed notifications (the evidence of what went wrong), and the hub's
/// events — the hub promises a run's whole sequence without gaps to a client that subscribes late. Every instance
/// may sweep; deleting twice is harmless.
/// </summary>
public sealed class RetentionSweeper(IServiceScopeFactory scopes, IOptions<RetentionOptions> options, TimeProvider clock, ILogger<RetentionSweeper> log)
    : BackgroundService
{
    // Nothing signals it: the queues' drain loop runs a pass every SweepInterval, and again at once while a batch came back full.
    private readonly QueueSignal _loop = new();

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        return settings.KeepFor == TimeSpan.Zero
            ? Task.CompletedTask
            : _loop.RunLoopAsync(token => SweepBatchAsync(settings, token), settings.SweepInterval, ex => RetentionLog.SweepFailed(log, ex), stoppingToken);
    }

    /// <summary>Deletes one batch of each kind; true when a batch was full (more may be waiting).</summary>
    private async Task<bool> SweepBatchAsync(RetentionOptions settings, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var before = clock.GetUtcNow().UtcDateTime - settings.KeepFor;
        var queue = await db.WriteAsync(ct => db.Queue
            .Where(q => q.Status == QueueStatuses.Done && q.CompletedAt < before)
            .OrderBy(q => q.Id).Take(settings.BatchSize).ExecuteDeleteAsync(ct), cancellationToken);
        var notifications = await db.WriteAsync(ct => db.Notifications
            .Where(n => (n.Status == NotificationStatuses.Sent || n.Status == NotificationStatuses.Skipped) && n.CreatedAt < before)
            .OrderBy(n => n.Id).Take(settings.BatchSize).ExecuteDeleteAsync(ct), cancellationToken);
        // Idempotency keys carry their own expiry (Idempotency:KeepFor): past it they answer nothing, whatever KeepFor says.
        var now = clock.GetUtcNow().UtcDateTime;
        var keys = await db.WriteAsync(ct => db.IdempotencyKeys
            .Where(k => k.ExpiresAt <= now)
            .OrderBy(k => k.ExpiresAt).Take(settings.BatchSize).ExecuteDeleteAsync(ct), cancellationToken);
        // Instances that ended (stopped, or died and were taken over) long ago: one row per process start, else every deploy adds some.
        var instances = await db.WriteAsync(ct => db.Instances
            .Where(i => i.EndedAt != null && i.EndedAt < before)
            .OrderBy(i => i.EndedAt).Take(settings.BatchSize).ExecuteDeleteAsync(ct), cancellationToken);
        if (queue + notifications + keys + instances > 0)
        {
            RetentionLog.Swept(log, queue, notifications, keys, instances, settings.KeepFor);
        }

        return queue == settings.BatchSize || notifications == settings.BatchSize || keys == settings.BatchSize || instances == settings.BatchSize;
    }
}

internal static partial class RetentionLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Retention: deleted {Queue} finished queue items, {Notifications} sent or skipped notifications and {Instances} ended instances older than {KeepFor}, and {Keys} expired idempotency keys")]
    public static partial void Swept(ILogger logger, int queue, int notifications, int keys, int instances, TimeSpan keepFor);

    [LoggerMessage(Level = LogLevel.Error, Message = "The retention sweep failed; it tries again at the next interval")]
    public static partial void SweepFailed(ILogger logger, Exception exception);
}
