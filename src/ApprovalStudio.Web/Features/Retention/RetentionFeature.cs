using System.ComponentModel.DataAnnotations;
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
/// that are done and notifications that were sent or skipped. What people and auditors read stays: runs, tasks, node
/// runs, the audit, dead-lettered items and failed notifications (the evidence of what went wrong), and the hub's
/// events — the hub promises a run's whole sequence without gaps to a client that subscribes late. Every instance
/// may sweep; deleting twice is harmless.
/// </summary>
public sealed class RetentionSweeper(IServiceScopeFactory scopes, IOptions<RetentionOptions> options, TimeProvider clock, ILogger<RetentionSweeper> log)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (settings.KeepFor == TimeSpan.Zero)
        {
            return;
        }

        using var timer = new PeriodicTimer(settings.SweepInterval, clock);
        do
        {
            try
            {
                await SweepAsync(settings, stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                RetentionLog.SweepFailed(log, ex);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    /// <summary>One sweep; the counts of what went, by table.</summary>
    public async Task<(int Queue, int Notifications)> SweepAsync(RetentionOptions settings, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var before = clock.GetUtcNow().UtcDateTime - settings.KeepFor;
        var queue = await InBatchesAsync(settings, token => db.Queue
            .Where(q => q.Status == QueueStatuses.Done && q.CompletedAt < before)
            .OrderBy(q => q.Id).Take(settings.BatchSize).ExecuteDeleteAsync(token), cancellationToken);
        var notifications = await InBatchesAsync(settings, token => db.Notifications
            .Where(n => (n.Status == NotificationStatuses.Sent || n.Status == NotificationStatuses.Skipped) && n.CreatedAt < before)
            .OrderBy(n => n.Id).Take(settings.BatchSize).ExecuteDeleteAsync(token), cancellationToken);
        if (queue + notifications > 0)
        {
            RetentionLog.Swept(log, queue, notifications, settings.KeepFor);
        }

        return (queue, notifications);
    }

    private static async Task<int> InBatchesAsync(RetentionOptions settings, Func<CancellationToken, Task<int>> deleteBatch, CancellationToken cancellationToken)
    {
        var total = 0;
        int deleted;
        do
        {
            deleted = await deleteBatch(cancellationToken);
            total += deleted;
        }
        while (deleted == settings.BatchSize);
        return total;
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}

internal static partial class RetentionLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Retention: deleted {Queue} finished queue items and {Notifications} sent or skipped notifications older than {KeepFor}")]
    public static partial void Swept(ILogger logger, int queue, int notifications, TimeSpan keepFor);

    [LoggerMessage(Level = LogLevel.Error, Message = "The retention sweep failed; it tries again at the next interval")]
    public static partial void SweepFailed(ILogger logger, Exception exception);
}
