using System.Net;
using ApprovalStudio.Web.Features.Inbox;
using ApprovalStudio.Web.Infrastructure.Auth;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalStudio.Web.Tests.Inbox;

/// <summary>The feed the open inbox pages and badges hear: counts kept by adding and subtracting, one read per batch.</summary>
public sealed class InboxFeedTests
{
    private static Actor Person(string user, params string[] groups) => new(AppHost.Tenant, user, user, new HashSet<string>(groups), new HashSet<string>());

    private static Task<string> KnownAsync(InboxFeed feed, Actor actor, int expected) =>
        Poll.UntilAsync(() => feed.KnownCount(actor) == expected ? "ok" : null, TimeSpan.FromSeconds(15),
            () => $"{actor.UserId}'s count stayed {feed.KnownCount(actor)}, not {expected}");

    [Fact]
    public async Task Each_approvers_count_follows_new_and_answered_tasks_without_counting_again()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Api.Flows.Review); // the task goes to group ops and to user bob
        var feed = host.Services.GetRequiredService<InboxFeed>();
        var queries = host.Services.GetRequiredService<InboxQueries>();
        Actor zoe = Person("zoe", "ops"), bob = Person("bob"), eve = Person("eve", "sales");
        var admin = new Actor(AppHost.Tenant, "root", "Root", new HashSet<string>(), new HashSet<string> { Actor.AdminRole });
        foreach (var actor in new[] { zoe, bob, eve, admin })
        {
            Assert.Equal(0, await feed.CountAsync(actor, CancellationToken.None));
        }

        using var sql = await SqlCommands.OnAsync(host);
        var runs = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            runs.Add(await host.StartRunAsync("review-flow", $$"""{"doc":"doc {{i}}"}"""));
        }

        await KnownAsync(feed, zoe, 3);
        await KnownAsync(feed, bob, 3);
        await KnownAsync(feed, admin, 3);
        Assert.Equal(0, feed.KnownCount(eve));

        var resId = await host.WaitForTaskAsync(runs[1]);
        using (var answer = await host.Admin().PostAsync($"/api/executions/{resId}/resume", AppHost.Json("""{"acknowledged":true}""")))
        {
            Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
        }

        await KnownAsync(feed, zoe, 2);
        await KnownAsync(feed, bob, 2);
        await KnownAsync(feed, admin, 2);
        Assert.Equal(0, sql.Count(InboxQueries.CountTag));
        Assert.Equal(2, await queries.CountPendingAsync(zoe, CancellationToken.None)); // what a fresh COUNT says
        Assert.Equal(2, await feed.CountAsync(zoe, CancellationToken.None)); // and the kept figure is served without one
        Assert.Equal(1, sql.Count(InboxQueries.CountTag));
    }

    /// <summary>The system's clock, moved on by hand: a kept count grows old without the test waiting a minute.</summary>
    private sealed class MovableClock : TimeProvider
    {
        private long _ahead;

        public void MoveOn(TimeSpan by) => Interlocked.Add(ref _ahead, by.Ticks);

        public override DateTimeOffset GetUtcNow() => System.GetUtcNow().AddTicks(Interlocked.Read(ref _ahead));
    }

    [Fact]
    public async Task An_old_count_is_served_at_once_and_counted_again_in_the_background_once_for_all_readers()
    {
        var clock = new MovableClock();
        await using var host = await AppHost.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        await host.CreateWorkflowAsync(Api.Flows.Review);
        var feed = host.Services.GetRequiredService<InboxFeed>();
        var zoe = Person("zoe", "ops");
        var heard = new List<InboxUpdate>();
        using (feed.Subscribe(zoe, updates => { lock (heard) { heard.AddRange(updates); } }))
        {
            await host.WaitForTaskAsync(await host.StartRunAsync("review-flow", """{"doc":"one"}"""));
            // Counted once the feed has heard of the task: a change heard after the COUNT is counted on top of it.
            await HeardAsync([heard], 1);
        }

        Assert.Equal(1, await feed.CountAsync(zoe, CancellationToken.None));

        // A task the feed never heard of (as if its change were lost on the way): the kept count is one short.
        await using (var db = host.Database.OpenContext())
        {
            await db.Database.ExecuteSqlRawAsync("""
                INSERT INTO "Executions" ("Id", "TenantId", "WorkflowKey", "WorkflowVersion", "Status", "InputJson", "CreatedBy", "CreatedAt", "UpdatedAt", "Revision", "LastSequence")
                VALUES ('unheard', 'acme', 'review-flow', 1, 'Suspended', 'null', 'rita', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 0, 0);
                INSERT INTO "Tasks" ("ResId", "ExecutionId", "TenantId", "WorkflowKey", "WorkflowVersion", "NodeId", "StackJson", "StackKey", "Kind", "Title", "Status", "CreatedAt", "Made")
                VALUES ('unheard-task', 'unheard', 'acme', 'review-flow', 1, 'review', '[]', '', 'Review', 'Unheard', 'Pending', '2026-01-01 00:00:00', 0);
                INSERT INTO "TaskAssignees" ("ResId", "Kind", "Value") VALUES ('unheard-task', 'group', 'ops');
                """);
        }

        Assert.Equal(1, await feed.CountAsync(zoe, CancellationToken.None)); // counted lately: served from memory

        using var sql = await SqlCommands.OnAsync(host);
        clock.MoveOn(InboxFeed.Recount + TimeSpan.FromSeconds(1));
        var served = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => feed.CountAsync(zoe, CancellationToken.None)));
        // The first at once, as kept: no reader waits for the COUNT. The others may come after it ended (it is quick here).
        Assert.Equal(1, served[0]);
        Assert.All(served, count => Assert.InRange(count, 1, 2));

        await KnownAsync(feed, zoe, 2); // and healed in the background
        Assert.Equal(1, sql.Count(InboxQueries.CountTag)); // by one COUNT for the twenty readers
        Assert.Equal(2, await feed.CountAsync(zoe, CancellationToken.None));
    }

    private static async Task HeardAsync(List<List<InboxUpdate>> heard, int updates)
    {
        foreach (var list in heard)
        {
            await Poll.UntilAsync(() => { lock (list) { return list.Count == updates ? "ok" : null; } }, TimeSpan.FromSeconds(15), () => $"a listener heard {list.Count} updates");
        }
    }

    [Fact]
    public async Task A_batch_hands_each_listener_what_its_approver_may_answer_with_the_new_tasks_row_read_once()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Api.Flows.Review);
        var feed = host.Services.GetRequiredService<InboxFeed>();
        var admin = new Actor(AppHost.Tenant, "root", "Root", new HashSet<string>(), new HashSet<string> { Actor.AdminRole });
        Actor[] approvers = [.. Enumerable.Range(0, 20).Select(i => i % 2 == 0 ? Person("zoe", "ops") : admin)];
        var heard = approvers.Select(_ => new List<InboxUpdate>()).ToList();
        var stranger = new List<InboxUpdate>();
        var subscriptions = approvers.Select((actor, i) => feed.Subscribe(actor, updates =>
        {
            lock (heard[i])
            {
                heard[i].AddRange(updates);
            }
        })).Append(feed.Subscribe(Person("eve", "sales"), stranger.AddRange)).ToList();
        try
        {
            using var sql = await SqlCommands.OnAsync(host);
            var run = await host.StartRunAsync("review-flow", """{"doc":"Q3 plan"}""");
            var resId = await host.WaitForTaskAsync(run);
            await HeardAsync(heard, 1);
            using (await host.Admin().PostAsync($"/api/executions/{resId}/resume", AppHost.Json("""{"acknowledged":true}"""))) { }

            await HeardAsync(heard, 2);
            foreach (var list in heard)
            {
                lock (list)
                {
                    Assert.True(list[0].Created);
                    Assert.Equal(resId, list[0].ResId);
                    Assert.Equal("Look at Q3 plan", list[0].Row!.Title);
                    Assert.Equal("Review", list[0].Row!.WorkflowName);
                    Assert.False(list[1].Created);
                    Assert.Null(list[1].Row);
                }
            }

            Assert.Equal(1, sql.Count(InboxQueries.RowsTag));
            Assert.Empty(stranger);
        }
        finally
        {
            subscriptions.ForEach(s => s.Dispose());
        }
    }
}
