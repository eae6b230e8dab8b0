using System.Diagnostics;
using ApprovalStudio.Web.Features.Cluster;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Tests.Api;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalStudio.Web.Tests.Cluster;

/// <summary>
/// Instances beat in the <c>Instances</c> table; when one stops beating, a survivor pushes again what it committed in
/// its last moments, so a hub client connected to the survivor gets an event the dead instance stored but never pushed.
/// </summary>
public sealed class InstanceHeartbeatTests
{
    private static readonly Dictionary<string, string?> Fast = new()
    {
        ["Cluster:HeartbeatInterval"] = "00:00:00.200",
        ["Cluster:DeadAfter"] = "00:00:01",
    };

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task An_event_a_dead_instance_stored_but_never_pushed_reaches_a_subscriber_through_the_survivor(Provider provider)
    {
        await using var host = await AppHost.StartAsync(provider, Fast);
        await host.CreateWorkflowAsync(Flows.Review);
        var executionId = await host.StartRunAsync("review-flow");
        await host.WaitForTaskAsync(executionId);
        await using var client = await HubClient.ConnectAsync(host.Address, host.Token("watcher"));
        var seen = await client.SubscribeAsync(executionId);
        var last = seen[^1].Sequence;

        // What an instance killed between its commit and its push leaves behind: a stored event nobody was told about,
        // and its heartbeat row, silent since.
        var now = DateTime.UtcNow;
        await using (var db = host.Database.OpenContext())
        {
            db.Instances.Add(new InstanceRecord { Id = "dead-one", Host = "elsewhere", ProcessId = 42, StartedAt = now.AddMinutes(-5), LastSeenAt = now.AddSeconds(-3) });
            db.ExecutionEvents.Add(new ExecutionEventRecord
            {
                ExecutionId = executionId, Sequence = last + 1, TenantId = AppHost.Tenant, Type = "nodeStarted", NodeId = "after",
                Status = ExecutionStatuses.Running, At = now.AddSeconds(-2),
            });
            await db.Executions.Where(e => e.Id == executionId).ExecuteUpdateAsync(s => s.SetProperty(e => e.LastSequence, last + 1));
            await db.SaveChangesAsync();
        }

        var events = await client.WaitForAsync(e => e.Any(x => x.Sequence == last + 1), TimeSpan.FromSeconds(20));
        Assert.Equal(("nodeStarted", "after"), (events[^1].Type, events[^1].NodeId));

        var survivor = host.Services.GetRequiredService<InstanceHeartbeat>().InstanceId;
        await using (var db = host.Database.OpenContext())
        {
            var dead = await db.Instances.AsNoTracking().SingleAsync(i => i.Id == "dead-one");
            Assert.Equal(survivor, dead.EndedBy);
            var alive = await db.Instances.AsNoTracking().SingleAsync(i => i.Id == survivor);
            Assert.Null(alive.EndedAt);
            Assert.InRange(alive.LastSeenAt, now.AddSeconds(-5), DateTime.UtcNow.AddSeconds(1));
        }
    }

    [Fact]
    public async Task An_instance_whose_clock_runs_a_minute_behind_is_alive_while_it_beats_and_taken_over_once_it_stops()
    {
        await using var host = await AppHost.StartAsync(Provider.Sqlite, Fast);
        var skew = TimeSpan.FromMinutes(-1);
        await using (var db = host.Database.OpenContext())
        {
            var then = DateTime.UtcNow + skew;
            db.Instances.Add(new InstanceRecord { Id = "behind", Host = "elsewhere", ProcessId = 7, StartedAt = then, LastSeenAt = then });
            await db.SaveChangesAsync();
        }

        // It beats every 200 ms, by its own clock, which says a minute ago. Its last heartbeat is always "a minute old" to
        // the survivor's clock, far past DeadAfter (1 s), yet it is alive: for 3 s (15 of the survivor's looks) nobody takes it.
        var beating = Stopwatch.StartNew();
        Stopwatch stopped;
        while (true)
        {
            await using (var db = host.Database.OpenContext())
            {
                var beat = DateTime.UtcNow + skew;
                await db.Instances.Where(i => i.Id == "behind").ExecuteUpdateAsync(s => s.SetProperty(i => i.LastSeenAt, beat));
            }

            if (beating.Elapsed >= TimeSpan.FromSeconds(3))
            {
                stopped = Stopwatch.StartNew(); // its last beat
                break;
            }

            await Task.Delay(200);
        }

        await using (var db = host.Database.OpenContext())
        {
            var alive = await db.Instances.AsNoTracking().SingleAsync(i => i.Id == "behind");
            Assert.Null(alive.EndedBy);
        }

        // And the Operations page says so (not "silent" for a heartbeat a minute old by this machine's clock).
        var listed = await host.Services.GetRequiredService<InstanceHeartbeat>().ListAsync(10, CancellationToken.None);
        Assert.Equal(InstanceState.Alive, listed.Single(i => i.Id == "behind").State);

        // It stops beating: taken over once it has been silent for DeadAfter on the survivor's clock.
        var survivor = host.Services.GetRequiredService<InstanceHeartbeat>().InstanceId;
        var taken = await Poll.UntilAsync(async () =>
        {
            await using var db = host.Database.OpenContext();
            return await db.Instances.AsNoTracking().SingleAsync(i => i.Id == "behind") is { EndedBy: not null } ended ? ended : null;
        }, TimeSpan.FromSeconds(10), () => "the silent instance was never taken over");
        Assert.Equal(survivor, taken.EndedBy);
        Assert.True(stopped.Elapsed >= TimeSpan.FromSeconds(0.9), $"taken over {stopped.Elapsed} after its last beat, before DeadAfter (1 s)");
    }

    [Fact]
    public async Task A_clean_stop_says_so_and_nobody_takes_over_for_it()
    {
        await using var database = TestDatabase.Create(Provider.Sqlite);
        string id;
        var host = await AppHost.StartAsync(Provider.Sqlite, Fast, database);
        try
        {
            id = host.Services.GetRequiredService<InstanceHeartbeat>().InstanceId;
            await Poll.UntilAsync(async () =>
            {
                await using var db = database.OpenContext();
                return await db.Instances.AsNoTracking().SingleOrDefaultAsync(i => i.Id == id);
            }, TimeSpan.FromSeconds(10), () => "the instance never registered");
        }
        finally
        {
            await host.DisposeAsync();
        }

        await using var check = database.OpenContext();
        var stopped = await check.Instances.AsNoTracking().SingleAsync(i => i.Id == id);
        Assert.Equal(InstanceHeartbeat.Stopped, stopped.EndedBy);
        Assert.NotNull(stopped.EndedAt);
    }

    [Fact]
    public async Task A_dead_after_of_less_than_three_heartbeats_stops_the_app_naming_it()
    {
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => AppHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Cluster:HeartbeatInterval"] = "00:00:02", ["Cluster:DeadAfter"] = "00:00:05",
        }));
        Assert.Contains("Cluster:DeadAfter must be at least 3 x Cluster:HeartbeatInterval.", refused.ToString(), StringComparison.Ordinal);
    }
}
