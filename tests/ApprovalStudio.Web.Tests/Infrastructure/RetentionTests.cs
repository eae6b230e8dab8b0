using System.Net;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Tests.Api;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Tests.Infrastructure;

/// <summary>The retention sweep, running in the background of a real app on SQLite and PostgreSQL.</summary>
public sealed class RetentionTests
{
    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task Finished_bookkeeping_older_than_keep_for_goes_and_what_people_and_auditors_read_stays(Provider provider)
    {
        await using var host = await AppHost.StartAsync(provider, settings: new Dictionary<string, string?>
        {
            ["Retention:KeepFor"] = "00:00:03",
            ["Retention:SweepInterval"] = "00:00:00.500",
            ["Retention:BatchSize"] = "1",
        });
        await host.CreateWorkflowAsync(Flows.Review);
        var ended = await host.StartRunAsync("review-flow", """{"doc":"a"}""");
        var endedTask = await host.WaitForTaskAsync(ended);
        var (status, _, _) = await AppHost.SendAsync(host.Client(host.Token("bob")), HttpMethod.Post, $"/api/executions/{endedTask}/resume", """{"acknowledged":true}""");
        Assert.Equal(HttpStatusCode.Accepted, status);
        await host.WaitForAsync(ended, s => (string?)s["status"] == "Completed");
        var open = await host.StartRunAsync("review-flow", """{"doc":"b"}""");
        await host.WaitForTaskAsync(open);

        var now = DateTime.UtcNow;
        await using (var db = host.Database.OpenContext())
        {
            db.Notifications.AddRange(
                Message(ended, endedTask, NotificationStatuses.Sent, now.AddDays(-1)),
                Message(ended, endedTask, NotificationStatuses.Skipped, now.AddDays(-1)),
                Message(ended, endedTask, NotificationStatuses.Failed, now.AddDays(-1)),
                Message(ended, endedTask, NotificationStatuses.Sent, now.AddDays(1)));
            db.Queue.Add(new QueueItem
            {
                ExecutionId = ended, Kind = QueueKinds.Start, Status = QueueStatuses.DeadLettered, AvailableAt = now.AddDays(-1),
                CreatedAt = now.AddDays(-1), CompletedAt = now.AddDays(-1), LastError = "kept as evidence",
            });
            db.IdempotencyKeys.AddRange(Key("expired", now.AddSeconds(-1)), Key("live", now.AddHours(1)));
            db.Instances.AddRange(
                new InstanceRecord { Id = "ended-long-ago", Host = "old", ProcessId = 1, StartedAt = now.AddDays(-3), LastSeenAt = now.AddDays(-2), EndedAt = now.AddDays(-2), EndedBy = "stopped" },
                new InstanceRecord { Id = "running-for-days", Host = "up", ProcessId = 2, StartedAt = now.AddDays(-3), LastSeenAt = now.AddHours(1) });
            await db.SaveChangesAsync();
        }

        var events = await CountEventsAsync(host, ended);
        Assert.True(events > 0);

        // Three seconds after the runs' steps, the background sweep takes the done queue items and the old sent/skipped messages.
        await Poll.UntilAsync(async () =>
        {
            await using var db = host.Database.OpenContext();
            return await db.Queue.AnyAsync(q => q.Status == QueueStatuses.Done) || await db.Notifications.CountAsync() > 2
                || await db.IdempotencyKeys.CountAsync() > 1 || await db.Instances.AnyAsync(i => i.Id == "ended-long-ago") ? null : "swept";
        }, TimeSpan.FromSeconds(30), () => "The sweep never took the done queue items and the old sent messages.");

        await using (var db = host.Database.OpenContext())
        {
            Assert.Equal(
                [NotificationStatuses.Failed, NotificationStatuses.Sent],
                await db.Notifications.OrderBy(n => n.Status).Select(n => n.Status).ToListAsync());
            Assert.Equal("kept as evidence", (await db.Queue.SingleAsync()).LastError);
            Assert.Equal("live", (await db.IdempotencyKeys.SingleAsync()).Key);
            // An instance that has not ended stays, however long ago it started.
            Assert.True(await db.Instances.AnyAsync(i => i.Id == "running-for-days"));
            Assert.True(await db.ExecutionEvents.AnyAsync(e => e.ExecutionId == open));
            Assert.Equal(2, await db.Executions.CountAsync());
            Assert.Equal(2, await db.Tasks.CountAsync());
            Assert.Equal(1, await db.Audit.CountAsync(a => a.ExecutionId == ended));
            Assert.Equal(2, await db.NodeRuns.CountAsync(r => r.ExecutionId == ended));
        }

        // The hub replays an ended run's whole sequence to a late subscriber: its events are not the sweep's.
        Assert.Equal(events, await CountEventsAsync(host, ended));
        var final = await host.StatusAsync(ended);
        Assert.Equal("Completed", (string?)final["status"]);
        Assert.Equal("bob", (string?)final["output"]!["by"]);
    }

    private static async Task<int> CountEventsAsync(AppHost host, string executionId)
    {
        await using var db = host.Database.OpenContext();
        return await db.ExecutionEvents.CountAsync(e => e.ExecutionId == executionId);
    }

    private static IdempotencyRecord Key(string key, DateTime expiresAt) => new()
    {
        Scope = AppHost.Tenant, Key = key, Fingerprint = new string('0', 64), Status = IdempotencyStatuses.Done, ResponseStatus = 202,
        CreatedAt = expiresAt.AddDays(-1), ExpiresAt = expiresAt,
    };

    private static NotificationRecord Message(string executionId, string resId, string status, DateTime createdAt) => new()
    {
        TenantId = AppHost.Tenant, ExecutionId = executionId, ResId = resId, Kind = NotificationKinds.TaskCreated, Channel = NotificationChannels.Email,
        RecipientUserId = "bob", Address = "bob@acme.test", Status = status, AvailableAt = createdAt, CreatedAt = createdAt,
        SentAt = status == NotificationStatuses.Sent ? createdAt : null,
    };
}
