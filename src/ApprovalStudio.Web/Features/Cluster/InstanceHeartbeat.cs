using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.Cluster;

/// <summary>The <c>Cluster</c> section: instance heartbeats and taking over after an instance dies.</summary>
public sealed class ClusterOptions : IValidatableObject
{
    public const string SectionName = "Cluster";

    /// <summary>How often an instance says it is alive (and looks for instances that stopped saying so).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// An instance silent this long (its heartbeat unchanged, timed on the watching instance's own clock) is taken for dead.
    /// Several heartbeats: a long GC pause is not a death.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan DeadAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How far before a dead instance's last heartbeat its committed events are pushed again.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan Lookback { get; set; } = TimeSpan.FromSeconds(10);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (DeadAfter < 3 * HeartbeatInterval)
        {
            yield return new ValidationResult("Cluster:DeadAfter must be at least 3 x Cluster:HeartbeatInterval.", [nameof(DeadAfter)]);
        }
    }
}

/// <summary>
/// Every instance's heartbeat (a row in <c>Instances</c>), and what a survivor does when another instance stops beating.
/// A run's events and task changes are pushed to hub clients and open inboxes by the instance that committed them, right
/// after the commit. An instance killed between the two leaves them stored but never pushed, and a client connected to
/// another instance would wait for them forever: it sees no gap to fill. So the first survivor to notice the silence
/// claims the dead instance (one conditional update: only one survivor does it) and pushes again every event of the runs
/// updated from <see cref="ClusterOptions.Lookback"/> before its last heartbeat until now. Clients apply each event
/// sequence once, so what was pushed already is ignored. Task changes are not pushed again (an inbox counts them as they
/// come): an open inbox shows what it missed when it is next read.
/// </summary>
public sealed class InstanceHeartbeat(
    IServiceScopeFactory scopes, ExecutionNotifier notifier, IOptions<ClusterOptions> options, TimeProvider clock, ILogger<InstanceHeartbeat> log)
    : BackgroundService
{
    /// <summary>What <see cref="InstanceRecord.EndedBy"/> says of a clean stop.</summary>
    public const string Stopped = "stopped";

    /// <summary>The most runs whose events are pushed again for one dead instance.</summary>
    public const int MaxRuns = 5_000;

    public string InstanceId { get; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";

    // Each other instance's last heartbeat as read, and when (this process's clock) it was first read so. Written by the watching
    // loop; the Operations page reads it.
    private readonly ConcurrentDictionary<string, (DateTime LastSeenAt, long ReadAt)> _watched = [];

    /// <summary>
    /// Two loops: beating, and watching the others. A takeover (pushing again up to <see cref="MaxRuns"/> runs' events) takes
    /// its time in the watching loop, so it never holds up this instance's own heartbeat and gets it taken for dead.
    /// </summary>
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var registered = false;
        return Task.WhenAll(
            EveryAsync(settings.HeartbeatInterval, async () =>
            {
                await BeatAsync(registered, stoppingToken);
                registered = true;
            }, stoppingToken),
            EveryAsync(settings.HeartbeatInterval, () => WatchAsync(settings, stoppingToken), stoppingToken));
    }

    private async Task EveryAsync(TimeSpan interval, Func<Task> work, CancellationToken stoppingToken)
    {
        await Task.Yield();
        using var timer = new PeriodicTimer(interval, clock);
        try
        {
            do
            {
                try
                {
                    await work();
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    ClusterLog.HeartbeatFailed(log, ex);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One beat: says this instance is alive (registering it first); a failure is logged by the loop, and the next beat tries again.</summary>
    private async Task BeatAsync(bool registered, CancellationToken stoppingToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var now = clock.GetUtcNow().UtcDateTime;
        if (!registered)
        {
            db.Instances.Add(new InstanceRecord
            {
                Id = InstanceId, Host = Environment.MachineName, ProcessId = Environment.ProcessId, StartedAt = now, LastSeenAt = now,
            });
            await db.SaveChangesAsync(stoppingToken);
            return;
        }

        // Alive after all (a pause long enough for a survivor to take it for dead): beating again, it is covered again.
        await db.WriteAsync(ct => db.Instances.Where(i => i.Id == InstanceId).ExecuteUpdateAsync(s => s
            .SetProperty(i => i.LastSeenAt, now).SetProperty(i => i.EndedAt, (DateTime?)null).SetProperty(i => i.EndedBy, (string?)null), ct), stoppingToken);
    }

    /// <summary>
    /// Looks at the other instances' heartbeats and takes over for any that stopped. Silence is judged on this process's own
    /// clock: an instance is dead when its <c>LastSeenAt</c> has not changed for <see cref="ClusterOptions.DeadAfter"/> since
    /// this one first read it so. Comparing its value to this machine's time instead would take a live instance whose clock
    /// runs behind for dead (and miss a dead one whose clock ran ahead).
    /// </summary>
    private async Task WatchAsync(ClusterOptions settings, CancellationToken stoppingToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var others = await db.Instances.AsNoTracking().Where(i => i.EndedAt == null && i.Id != InstanceId).ToListAsync(stoppingToken);
        var readAt = clock.GetTimestamp();
        var dead = new List<InstanceRecord>();
        foreach (var instance in others)
        {
            if (_watched.TryGetValue(instance.Id, out var watched) && watched.LastSeenAt == instance.LastSeenAt)
            {
                if (clock.GetElapsedTime(watched.ReadAt, readAt) >= settings.DeadAfter)
                {
                    dead.Add(instance);
                }
            }
            else
            {
                _watched[instance.Id] = (instance.LastSeenAt, readAt);
            }
        }

        foreach (var gone in _watched.Keys.Except(others.Select(i => i.Id)).ToList())
        {
            _watched.TryRemove(gone, out _); // ended: stopped cleanly, or taken over
        }

        await RecoverAsync(db, dead, settings, stoppingToken);
    }

    /// <summary>The instances that beat lately (newest first), each with what its heartbeats say of it now.</summary>
    public async Task<List<InstanceView>> ListAsync(int take, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var rows = await db.Instances.AsNoTracking().OrderByDescending(i => i.LastSeenAt).Take(take).ToListAsync(cancellationToken);
        var now = clock.GetTimestamp();
        // Silent as the watching loop times it (this process's clock), not by comparing another machine's clock with ours.
        bool Silent(InstanceRecord i) => _watched.TryGetValue(i.Id, out var watched) && watched.LastSeenAt == i.LastSeenAt
            && clock.GetElapsedTime(watched.ReadAt, now) >= options.Value.DeadAfter;
        return [.. rows.Select(i => new InstanceView(i.Id, i.Host, i.ProcessId, i.StartedAt, i.LastSeenAt, i.Id == InstanceId, i switch
        {
            { EndedBy: Stopped } => InstanceState.Stopped,
            { EndedBy: not null } => InstanceState.TakenOver,
            _ when Silent(i) => InstanceState.Silent,
            _ => InstanceState.Alive,
        }, i.EndedBy is Stopped ? null : i.EndedBy, i.EndedAt))];
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            // A clean stop pushed everything it committed: nobody needs to take over.
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
            var now = clock.GetUtcNow().UtcDateTime;
            await db.WriteAsync(ct => db.Instances.Where(i => i.Id == InstanceId && i.EndedAt == null)
                .ExecuteUpdateAsync(s => s.SetProperty(i => i.EndedAt, now).SetProperty(i => i.EndedBy, Stopped), ct), cancellationToken);
        }
        catch (Exception ex)
        {
            ClusterLog.HeartbeatFailed(log, ex);
        }
    }

    private async Task RecoverAsync(AppDbContext db, List<InstanceRecord> dead, ClusterOptions settings, CancellationToken cancellationToken)
    {
        foreach (var instance in dead)
        {
            // Only as still silent as we saw it: a beat since (a long pause, not a death) keeps it alive; another survivor may have taken it.
            var now = clock.GetUtcNow().UtcDateTime;
            var claimed = await db.WriteAsync(ct => db.Instances.Where(i => i.Id == instance.Id && i.EndedAt == null && i.LastSeenAt == instance.LastSeenAt)
                .ExecuteUpdateAsync(s => s.SetProperty(i => i.EndedAt, now).SetProperty(i => i.EndedBy, InstanceId), ct), cancellationToken);
            if (claimed != 1)
            {
                continue;
            }

            _watched.TryRemove(instance.Id, out _);

            // By the runs it could have touched (their UpdatedAt is set in the writer's turn, next to the commit), not by the
            // events' own times, which may be older than the commit (a step's node events carry when the node started).
            var from = instance.LastSeenAt - settings.Lookback;
            var runs = await db.Executions.AsNoTracking().Where(e => e.UpdatedAt >= from).OrderBy(e => e.UpdatedAt)
                .Select(e => e.Id).Take(MaxRuns).ToListAsync(cancellationToken);
            var events = 0;
            foreach (var run in runs)
            {
                var stored = await db.ExecutionEvents.AsNoTracking().Where(e => e.ExecutionId == run).OrderBy(e => e.Sequence).ToListAsync(cancellationToken);
                await notifier.ExecutionEventsAsync(stored);
                events += stored.Count;
            }

            ClusterLog.Recovered(log, instance.Id, instance.LastSeenAt, runs.Count, events);
        }
    }
}

/// <summary>Alive: beating. Silent: not beating for DeadAfter, not yet taken over. Stopped: cleanly. TakenOver: a survivor pushed again what it committed.</summary>
public enum InstanceState
{
    Alive,
    Silent,
    Stopped,
    TakenOver,
}

/// <summary>One instance as the Operations page lists it. <paramref name="TakenOverBy"/>: the survivor that recovered it.</summary>
public sealed record InstanceView(
    string Id, string Host, int ProcessId, DateTime StartedAt, DateTime LastSeenAt, bool IsThisOne, InstanceState State, string? TakenOverBy, DateTime? EndedAt);

public static class ClusterFeature
{
    public static IHostApplicationBuilder AddCluster(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ClusterOptions>().BindConfiguration(ClusterOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<InstanceHeartbeat>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<InstanceHeartbeat>());
        return builder;
    }
}

internal static partial class ClusterLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "The instance heartbeat failed; it tries again at the next beat")]
    public static partial void HeartbeatFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Instance {Instance} stopped beating (last seen {LastSeen:O}); pushed again the {Events} events of {Runs} runs it may have touched")]
    public static partial void Recovered(ILogger logger, string instance, DateTime lastSeen, int runs, int events);
}
