using System.Net;
using ApprovalStudio.Web.Tests.Api;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Tests.Hub;

/// <summary>/hubs/executions with the real SignalR .NET client over a real Kestrel port (CONTRACT §5).</summary>
public sealed class ExecutionHubTests
{
    private const string TwoStep = """
        {"key":"two-step","start":"approve",
         "nodes":[{"id":"approve","type":"approval","title":"Approve {{input.what}}","assignees":{"users":["mia"]}},
                  {"id":"prepare","type":"set","values":{"note":"'ok: ' + approve.comment"}},
                  {"id":"review","type":"review","title":"Review {{input.what}}","assignees":{"groups":["ops"]}},
                  {"id":"done","type":"set","values":{"note":"prepare.note"}}],
         "edges":[{"from":"approve","to":"prepare"},{"from":"prepare","to":"review"},{"from":"review","to":"done"}]}
        """;

    private static string Describe(IEnumerable<Features.Executions.ExecutionEventMessage> events) =>
        string.Join(" ", events.Select(e => e.NodeId is null ? e.Type : $"{e.Type}:{e.NodeId}"));

    [Fact]
    public async Task The_resumed_event_goes_out_with_the_202_not_with_the_continuation()
    {
        await using var database = TestDatabase.Create(Provider.Sqlite);
        var key = AppHost.NewSigningKey();
        string executionId, approveTask;
        await using (var host = await AppHost.StartAsync(database: database, signingKey: key))
        {
            await host.CreateWorkflowAsync(TwoStep);
            executionId = await host.StartRunAsync("two-step", """{"what":"Q3"}""");
            approveTask = await host.WaitForTaskAsync(executionId, "approve");
        }

        // No worker: nothing can continue the run, so whatever the subscriber sees came with the answer itself.
        await using (var answering = await AppHost.StartAsync(database: database, signingKey: key,
            settings: new Dictionary<string, string?> { ["Workflows:Worker:Enabled"] = "false" }))
        {
            await using var client = await HubClient.ConnectAsync(answering.Address, answering.Token("watcher"));
            Assert.Equal(3, (await client.SubscribeAsync(executionId)).Count);
            using (var accepted = await answering.Client(answering.Token("mia")).PostJsonAsync($"/api/executions/{approveTask}/resume", """{"decision":"Approved"}"""))
            {
                Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
            }

            var events = await client.WaitForAsync(e => e.Any(x => x.Type == "resumed"));
            Assert.Equal("resumed:approve", Describe(events.Skip(3)));
            Assert.Equal((4L, "mia", "api"), (events[3].Sequence, (string?)events[3].Data!["actor"], (string?)events[3].Data!["channel"]));
            var status = await answering.StatusAsync(executionId);
            Assert.Equal(("Resuming", 4L), ((string?)status["status"], (long?)status["lastSequence"]));
        }

        // The continuation numbers its events after it: one sequence, no gap, no repeat.
        await using var continuing = await AppHost.StartAsync(database: database, signingKey: key);
        await using var later = await HubClient.ConnectAsync(continuing.Address, continuing.Token("watcher"));
        await later.SubscribeAsync(executionId);
        var all = await later.WaitForAsync(e => e.Any(x => x.Type == "suspended" && x.NodeId == "review"));
        Assert.Equal("started nodeStarted:approve suspended:approve resumed:approve nodeCompleted:approve nodeStarted:prepare nodeCompleted:prepare nodeStarted:review suspended:review",
            Describe(all));
        Assert.Equal(Enumerable.Range(1, all.Count).Select(i => (long)i), all.Select(e => e.Sequence));
    }

    [Fact]
    public async Task After_a_202_the_subscriber_sees_the_resume_the_node_events_and_the_next_wait_then_the_end_in_order()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(TwoStep);
        var executionId = await host.StartRunAsync("two-step", """{"what":"Q3"}""");
        var approveTask = await host.WaitForTaskAsync(executionId, "approve");
        await using var client = await HubClient.ConnectAsync(host.Address, host.Token("watcher"));

        var history = await client.SubscribeAsync(executionId);
        Assert.Equal("started nodeStarted:approve suspended:approve", Describe(history));
        var suspended = history[^1];
        Assert.Equal((approveTask, "Approval", "Approve Q3"), ((string?)suspended.Data!["resId"], (string?)suspended.Data["kind"], (string?)suspended.Data["title"]));

        using (var accepted = await host.Client(host.Token("mia")).PostJsonAsync($"/api/executions/{approveTask}/resume", """{"decision":"Approved","comment":"fine"}"""))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        var events = await client.WaitForAsync(e => e.Any(x => x.Type == "suspended" && x.NodeId == "review"));
        Assert.Equal("resumed:approve nodeCompleted:approve nodeStarted:prepare nodeCompleted:prepare nodeStarted:review suspended:review",
            Describe(events.Skip(3)));
        var resumed = events[3];
        Assert.Equal(("mia", "api"), ((string?)resumed.Data!["actor"], (string?)resumed.Data["channel"]));
        Assert.Equal("fine", (string?)events[4].Data!["output"]!["comment"]);

        var reviewTask = (string)events[^1].Data!["resId"]!;
        using (var accepted = await host.Client(host.Token("zoe", ["ops"])).PostJsonAsync($"/api/executions/{reviewTask}/resume", """{"acknowledged":true}"""))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        events = await client.WaitForAsync(e => e.Any(x => x.Type == "completed"));
        Assert.Equal("resumed:review nodeCompleted:review nodeStarted:done nodeCompleted:done completed", Describe(events.Skip(9)));
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.Equal("ok: fine", (string?)events[^1].Data!["output"]!["note"]);
        Assert.Equal(events[^1].Sequence, (long?)(await host.StatusAsync(executionId))["lastSequence"]);
    }

    [Fact]
    public async Task A_client_that_reconnects_with_its_last_sequence_gets_exactly_what_it_missed_even_across_a_server_restart()
    {
        var key = AppHost.NewSigningKey();
        await using var database = TestDatabase.Create(Provider.Sqlite);
        string executionId;
        long seen;
        await using (var host = await AppHost.StartAsync(database: database, signingKey: key))
        {
            await host.CreateWorkflowAsync(TwoStep);
            executionId = await host.StartRunAsync("two-step", """{"what":"Q4"}""");
            var approveTask = await host.WaitForTaskAsync(executionId, "approve");
            await using (var client = await HubClient.ConnectAsync(host.Address, host.Token("watcher")))
            {
                await client.SubscribeAsync(executionId);
                seen = client.LastSequence;
            }

            // Disconnected: the run moves on without this client.
            using var accepted = await host.Client(host.Token("mia")).PostJsonAsync($"/api/executions/{approveTask}/resume", """{"decision":"Approved"}""");
            await host.WaitForTaskAsync(executionId, "review");
        }

        await using var restarted = await AppHost.StartAsync(database: database, signingKey: key);
        await using var again = await HubClient.ConnectAsync(restarted.Address, restarted.Token("watcher"));
        var missed = await again.SubscribeAsync(executionId, seen);

        Assert.Equal(3, seen);
        Assert.Equal("resumed:approve nodeCompleted:approve nodeStarted:prepare nodeCompleted:prepare nodeStarted:review suspended:review", Describe(missed));
        Assert.Equal([4L, 5, 6, 7, 8, 9], missed.Select(e => e.Sequence));
        await using var db = database.OpenContext();
        Assert.Equal(9, await db.ExecutionEvents.CountAsync(e => e.ExecutionId == executionId));
    }

    [Fact]
    public async Task Another_tenants_execution_cannot_be_subscribed_to()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(TwoStep);
        var executionId = await host.StartRunAsync("two-step", """{"what":"x"}""");
        await using var outsider = await HubClient.ConnectAsync(host.Address, host.Token("spy", tenant: "globex"));

        var error = await Assert.ThrowsAsync<HubException>(() => outsider.SubscribeAsync(executionId));

        Assert.Contains("not found in your tenant", error.Message);
        await Assert.ThrowsAsync<HubException>(() => outsider.Connection.InvokeAsync<object>("GetExecutionEvents", executionId, null));
    }

    [Fact]
    public async Task The_hub_refuses_a_connection_without_a_valid_token()
    {
        await using var host = await AppHost.StartAsync();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => HubClient.ConnectAsync(host.Address, "not-a-token"));

        Assert.Contains("401", error.Message);
    }

    [Fact]
    public async Task The_inbox_subscription_brings_task_created_and_resolved_to_those_who_may_act_in_their_tenant_only()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Flows.Review);
        await using var bob = await HubClient.ConnectAsync(host.Address, host.Token("bob"));
        await using var zoe = await HubClient.ConnectAsync(host.Address, host.Token("zoe", ["ops"]));
        await using var eve = await HubClient.ConnectAsync(host.Address, host.Token("eve", ["sales"]));
        await using var stranger = await HubClient.ConnectAsync(host.Address, host.Token("bob", ["ops"], tenant: "globex"));
        foreach (var client in new[] { bob, zoe, eve, stranger })
        {
            await client.SubscribeInboxAsync();
        }

        var executionId = await host.StartRunAsync("review-flow", """{"doc":"plan"}""");
        await bob.WaitForInboxAsync(m => m.Any(x => x.Kind == "created"));
        await zoe.WaitForInboxAsync(m => m.Any(x => x.Kind == "created"));
        var created = bob.InboxMessages.First(m => m.Kind == "created").Task;
        Assert.Equal(("Look at plan", executionId, "Pending"), (created.Title, created.ExecutionId, created.Status));

        using (var accepted = await host.Client(host.Token("zoe", ["ops"])).PostJsonAsync($"/api/executions/{created.ResId}/resume", """{"acknowledged":true}"""))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        await bob.WaitForInboxAsync(m => m.Any(x => x.Kind == "resolved"));
        await zoe.WaitForInboxAsync(m => m.Any(x => x.Kind == "resolved"));
        var resolved = bob.InboxMessages.First(m => m.Kind == "resolved").Task;
        Assert.Equal((created.ResId, "Resolved", "zoe", "api"), (resolved.ResId, resolved.Status, resolved.ResolvedBy, resolved.Channel));
        await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
        await Task.Delay(300);
        Assert.Empty(eve.InboxMessages);
        Assert.Empty(stranger.InboxMessages);
    }
}
