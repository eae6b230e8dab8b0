using System.Diagnostics;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Telemetry;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.Notifications;

/// <summary>Wakes the dispatcher when a row was just written (a Slack response), instead of at the next poll.</summary>
public sealed class NotificationSignal : QueueSignal;

/// <summary>
/// Drains the notifications outbox, apart from the workflow worker: leases due rows (a guarded update, so one
/// instance sends each) as long as it has free send slots, delivers each in a fresh scope without waiting for the
/// others (a Slack call that takes its full timeout holds up nothing else), retries failures with backoff and gives
/// up after MaxAttempts (status Failed, last error kept). A crash between the channel's answer and the row's update
/// leaves the row in doubt once its lease runs out: a Slack message is then looked for before it is posted again (not
/// twice), an email is sent again with the same Message-ID (at least once).
/// </summary>
public sealed class NotificationDispatcher(
    IServiceScopeFactory scopes, NotificationSignal signal, IOptions<NotificationOptions> options, AppTelemetry telemetry, TimeProvider clock,
    ILogger<NotificationDispatcher> log)
    : BackgroundService
{
    private readonly string _owner = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";
    private readonly List<Task> _sending = []; // Only the loop touches it.

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.Enabled)
        {
            return;
        }

        await signal.RunLoopAsync(async token =>
        {
            _sending.RemoveAll(send => send.IsCompleted);
            var free = settings.MaxConcurrentSends - _sending.Count;
            if (free <= 0)
            {
                return false; // A finishing send signals.
            }

            var leased = await LeaseAsync(free, token);
            foreach (var (id, inDoubtSince) in leased)
            {
                _sending.Add(SendInBackgroundAsync(id, inDoubtSince, settings, token));
            }

            return leased.Count > 0;
        }, settings.PollInterval, ex => NotificationLog.LoopFailed(log, ex), stoppingToken);
        await Task.WhenAll(_sending);
    }

    private async Task SendInBackgroundAsync(long id, DateTime? inDoubtSince, NotificationOptions settings, CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            await SendOneAsync(id, inDoubtSince, settings, cancellationToken);
        }
        catch (Exception ex)
        {
            // Not the channel (SendOneAsync keeps those on the row) but the database, or shutting down: the lease runs out and the row is sent later.
            if (!cancellationToken.IsCancellationRequested)
            {
                NotificationLog.SendFailed(log, id, ex);
            }
        }
        finally
        {
            signal.Notify(); // A slot is free.
        }
    }

    /// <summary>
    /// Leases due rows. One still leased past its lease is in doubt: a send of it began (when its lease did) and never
    /// recorded its result — its instance died, or took longer than the lease — so it may have reached the channel.
    /// </summary>
    private async Task<List<(long Id, DateTime? InDoubtSince)>> LeaseAsync(int count, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var now = clock.GetUtcNow().UtcDateTime;
        var candidates = await db.Notifications.AsNoTracking()
            .Where(Leases.Free<NotificationRecord>(now))
            .OrderBy(n => n.AvailableAt).ThenBy(n => n.Id)
            .Select(n => new { n.Id, n.Status, n.LeasedUntil })
            .Take(count)
            .ToListAsync(cancellationToken);
        var lease = options.Value.LeaseDuration;
        var taken = await Leases.TakeAsync<NotificationRecord>(db, [.. candidates.Select(c => c.Id)], _owner, now, lease, cancellationToken);
        return [.. candidates.Where(c => taken.Contains(c.Id))
            .Select(c => (c.Id, c.Status == NotificationStatuses.Leased ? c.LeasedUntil - lease : (DateTime?)null))];
    }

    private async Task SendOneAsync(long id, DateTime? inDoubtSince, NotificationOptions settings, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var row = await db.Notifications.SingleAsync(n => n.Id == id, cancellationToken);
        if (row.Status != NotificationStatuses.Leased || row.LeaseOwner != _owner)
        {
            return;
        }

        // In doubt since the earliest send that may have reached the channel; kept across attempts until a result is recorded.
        row.InDoubtSince ??= inDoubtSince;

        // A span of its own: the channel's HTTP call sits under it, not alone at the root of a trace.
        using var activity = AppTelemetry.Source.StartActivity($"notify {row.Channel}", ActivityKind.Producer);
        activity?.SetTag("approvalstudio.notification_id", row.Id);
        activity?.SetTag("approvalstudio.notification_kind", row.Kind);
        activity?.SetTag("approvalstudio.execution_id", row.ExecutionId);
        var now = clock.GetUtcNow().UtcDateTime;
        string outcome; // For the notifications metric: sent, skipped, deferred, retrying, failed.
        try
        {
            var result = await scope.ServiceProvider.GetRequiredService<NotificationDelivery>().DeliverAsync(row, cancellationToken);
            outcome = result.Sent ? "sent" : result.Later is null ? "skipped" : "deferred";
            row.Status = result.Sent ? NotificationStatuses.Sent : result.Later is null ? NotificationStatuses.Skipped : NotificationStatuses.Pending;
            row.AvailableAt = result.Later is { } later ? now + later : row.AvailableAt;
            row.SentAt = result.Sent ? clock.GetUtcNow().UtcDateTime : null;
            row.ExternalId = result.ExternalId;
            row.LastError = result.SkipReason;
            row.InDoubtSince = result.Later is null ? null : row.InDoubtSince; // recorded: no longer in doubt
            NotificationLog.Delivered(log, row.Id, row.Kind, row.Channel, row.ExecutionId, row.Status);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return; // Shutting down: the lease runs out and the row is sent later.
        }
        catch (Exception ex)
        {
            row.Attempts++;
            row.LastError = Truncate($"{ex.GetType().Name}: {ex.Message}");
            if (row.Attempts >= settings.MaxAttempts)
            {
                row.Status = NotificationStatuses.Failed;
                outcome = "failed";
                NotificationLog.GaveUp(log, row.Id, row.Kind, row.Channel, row.ExecutionId, row.Attempts, ex);
            }
            else
            {
                var delay = settings.Backoff(row.Attempts);
                if (ex is SlackException { RetryAfter: { } retryAfter } && retryAfter > delay)
                {
                    delay = retryAfter;
                }

                row.Status = NotificationStatuses.Pending;
                row.AvailableAt = now + delay;
                outcome = "retrying";
                NotificationLog.Retrying(log, row.Id, row.Kind, row.Channel, row.ExecutionId, row.Attempts, row.AvailableAt, ex);
            }
        }

        row.LeaseOwner = null;
        row.LeasedUntil = null;
        await db.SaveChangesAsync(CancellationToken.None);
        activity?.SetTag("approvalstudio.outcome", outcome);
        telemetry.Notified(row.Channel, outcome);
    }

    private static string Truncate(string text) => text.Length > 4000 ? text[..4000] : text;
}

internal static partial class NotificationLog
{
    // The address (an email, a Slack id, a response_url) is never logged: the row's id finds it.
    [LoggerMessage(Level = LogLevel.Warning, Message = "Notification {Id} was being sent when its instance stopped, and Slack will not say whether it arrived (the app needs the im:write and im:history scopes, or channels:history for a channel); it is posted again")]
    public static partial void LookupFailed(ILogger logger, long id, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Notification {Id} ({Kind} by {Channel}) of run {ExecutionId}: {Status}")]
    public static partial void Delivered(ILogger logger, long id, string kind, string channel, string executionId, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notification {Id} ({Kind} by {Channel}) of run {ExecutionId} failed (attempt {Attempt}); retrying at {RetryAt:yyyy-MM-ddTHH:mm:ss.fffZ}")]
    public static partial void Retrying(ILogger logger, long id, string kind, string channel, string executionId, int attempt, DateTime retryAt, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Notification {Id} ({Kind} by {Channel}) of run {ExecutionId} given up after {Attempts} attempts")]
    public static partial void GaveUp(ILogger logger, long id, string kind, string channel, string executionId, int attempts, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Sending notification {Id} failed outside the channel; it is tried again when its lease runs out")]
    public static partial void SendFailed(ILogger logger, long id, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Failed notification {Id} sent again by {Actor}")]
    public static partial void Resent(ILogger logger, long id, string actor);

    [LoggerMessage(Level = LogLevel.Error, Message = "The notification loop failed; it goes on after the next poll")]
    public static partial void LoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant {TenantId}'s template {Name} failed ({Problem}); the default was used")]
    public static partial void TemplateFellBack(ILogger logger, string tenantId, string name, string problem);
}
