using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ApprovalStudio.Web.Tests.Executions;

/// <summary>
/// Routes that answer with a run's state after handing it work (resume-from, dispatch) wait on the run's own events, not
/// by polling, and their bound runs on the injected clock. The watches here have no safety-net wake-up, so only an event
/// (or the bound) can end a wait.
/// </summary>
public sealed class RunWatchTests
{
    private const string Workflow = """
        {"key":"watched","name":"Watched","start":"done","nodes":[{"id":"done","type":"set","values":{"ok":"true"}}],"edges":[]}
        """;

    [Fact]
    public async Task A_watch_wakes_on_an_event_of_its_run_and_not_on_another_runs()
    {
        var events = new ExecutionEvents();
        using var watch = RunWatch.Start(events, "r1", fallback: Timeout.InfiniteTimeSpan);

        var next = watch.NextAsync(CancellationToken.None);
        events.Raise(Event("r2", 1));
        Assert.False(next.IsCompleted);

        events.Raise(Event("r1", 1));
        await next.WaitAsync(TimeSpan.FromSeconds(30));

        // Several events before the next wait are taken together: the following wait is for a new one.
        events.Raise(Event("r1", 2));
        events.Raise(Event("r1", 3));
        await watch.NextAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(watch.NextAsync(CancellationToken.None).IsCompleted);
    }

    [Fact]
    public async Task Waiting_for_a_run_to_settle_ends_on_its_event_and_otherwise_at_the_bound_on_the_injected_clock()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Workflow);
        var events = new ExecutionEvents();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();

        // Running, with no queue item: only this test moves it.
        var stuck = await RunningAsync(db);
        var bounded = RunWatch.UntilSettledAsync(db, events, clock, stuck, TimeSpan.FromMinutes(10), CancellationToken.None, Timeout.InfiniteTimeSpan);
        await Task.Delay(100);
        Assert.False(bounded.IsCompleted);
        clock.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(ExecutionStatuses.Running, (await bounded.WaitAsync(TimeSpan.FromSeconds(30))).Status);

        var moving = await RunningAsync(db);
        var settled = RunWatch.UntilSettledAsync(db, events, clock, moving, TimeSpan.FromMinutes(10), CancellationToken.None, Timeout.InfiniteTimeSpan);
        await Task.Delay(100);
        Assert.False(settled.IsCompleted);
        await using (var other = host.Services.CreateAsyncScope())
        {
            await other.ServiceProvider.GetRequiredService<AppDbContext>().Executions.Where(e => e.Id == moving)
                .ExecuteUpdateAsync(s => s.SetProperty(e => e.Status, ExecutionStatuses.Completed));
        }

        events.Raise(Event(moving, 1));
        Assert.Equal(ExecutionStatuses.Completed, (await settled.WaitAsync(TimeSpan.FromSeconds(30))).Status);
    }

    private static ExecutionEventMessage Event(string executionId, long sequence) =>
        new(executionId, sequence, ExecutionEventTypes.NodeCompleted, "done", "Completed", DateTime.UtcNow, null);

    private static async Task<string> RunningAsync(AppDbContext db)
    {
        var now = DateTime.UtcNow;
        var id = RunStarts.NewId();
        db.Executions.Add(new ExecutionRecord
        {
            Id = id, TenantId = AppHost.Tenant, WorkflowKey = "watched", WorkflowVersion = 1, Status = ExecutionStatuses.Running,
            InputJson = "{}", CreatedBy = "test", CreatedAt = now, UpdatedAt = now,
        });
        await db.SaveChangesAsync();
        return id;
    }
}
