using System.Net;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Tests.Api;
using ApprovalStudio.Workflows.Resumption;
using CsCheck;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalStudio.Web.Tests.Resume;

/// <summary>
/// Voting approvals through the pipeline (issue 15): each vote is an answer of its own (202 <c>Voting</c> with the tally, an
/// audit record and a <c>voted</c> event) until the one that meets the policy continues the run, once, with every vote in
/// the node's output; a second vote by the same person is 409 naming the first, whatever the channel. On SQLite and
/// PostgreSQL.
/// </summary>
public sealed class QuorumVotingTests
{
    private static string Flow(string key, string quorum, string assignees, string extra = "") => $$$"""
        {"key":"{{{key}}}","start":"vote",
         "nodes":[{"id":"vote","type":"approval","title":"Sign off the budget","assignees":{{{assignees}}},"quorum":{{{quorum}}}{{{extra}}}},
                  {"id":"yes","type":"set","values":{"outcome":"'approved'"}},
                  {"id":"no","type":"set","values":{"outcome":"'rejected'"}}],
         "edges":[{"from":"vote","to":"yes","when":"vote.decision == 'Approved'"},{"from":"vote","to":"no","when":"vote.decision == 'Rejected'"}]}
        """;

    private static Task<(HttpStatusCode Status, JsonNode? Body, string? ContentType)> VoteAsync(AppHost host, string user, string resId, string decision, string[]? groups = null) =>
        AppHost.SendAsync(host.Client(host.Token(user, groups)), HttpMethod.Post, $"/api/executions/{resId}/resume", $$"""{"decision":"{{decision}}","comment":"{{user}} says {{decision}}"}""");

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task Every_named_user_votes_through_any_channel_and_the_last_vote_continues_the_run_once(Provider provider)
    {
        await using var host = await AppHost.StartAsync(provider);
        await host.CreateWorkflowAsync(Flow("budget", """{"approvals":"all"}""", """{"users":["ann","bob","cy"]}"""));
        var executionId = await host.StartRunAsync("budget");
        var resId = await host.WaitForTaskAsync(executionId);
        var before = await host.StatusAsync(executionId);
        Assert.Equal("""{"approvals":0,"rejections":0,"required":3,"waitingFor":["ann","bob","cy"]}""", before["waiting"]![0]!["tally"]!.ToJsonString());

        var first = await VoteAsync(host, "ann", resId, "Approved");
        Assert.Equal(HttpStatusCode.Accepted, first.Status);
        Assert.Equal("Voting", (string?)first.Body!["status"]);
        Assert.Equal("""{"approvals":1,"rejections":0,"required":3,"waitingFor":["bob","cy"]}""", first.Body["tally"]!.ToJsonString());

        // Ann again, through another channel: 409 naming her vote; nothing changes.
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var pipeline = scope.ServiceProvider.GetRequiredService<ResumePipeline>();
            var again = await pipeline.ResumeAsync(new ResumeCommand(resId, new AnswerGrant.DeepLink(AppHost.Tenant, "ann"), "email", JsonNode.Parse("""{"decision":"Rejected"}""")), default);
            var already = Assert.IsType<ResumeOutcome.AlreadyVoted>(again);
            Assert.Equal((ApprovalDecisions.Approved, "api"), (already.Decision, already.Channel));
        }

        var twice = await VoteAsync(host, "ann", resId, "Approved");
        Assert.Equal(HttpStatusCode.Conflict, twice.Status);
        Assert.Equal(("Approved", "api"), ((string?)twice.Body!["decision"], (string?)twice.Body["channel"]));
        Assert.Contains("You voted Approved", (string?)twice.Body["detail"]);

        // Bob votes from his email link; the status route and the hub's events carry the tally.
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var pipeline = scope.ServiceProvider.GetRequiredService<ResumePipeline>();
            var voted = await pipeline.ResumeAsync(new ResumeCommand(resId, new AnswerGrant.DeepLink(AppHost.Tenant, "bob"), "email", JsonNode.Parse("""{"decision":"Approved"}""")), default);
            Assert.Equal(2, Assert.IsType<ResumeOutcome.Voted>(voted).Tally.Approvals);
        }

        var waiting = await host.StatusAsync(executionId);
        Assert.Equal("Suspended", (string?)waiting["status"]);
        Assert.Equal("""{"approvals":2,"rejections":0,"required":3,"waitingFor":["cy"]}""", waiting["waiting"]![0]!["tally"]!.ToJsonString());

        var last = await VoteAsync(host, "cy", resId, "Approved");
        Assert.Equal(HttpStatusCode.Accepted, last.Status);
        Assert.Equal("Resuming", (string?)last.Body!["status"]);
        Assert.Null(last.Body["tally"]);
        var done = await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
        Assert.Equal("approved", (string?)done["output"]!["outcome"]);

        // After it settled: 409 saying who decided what, through which channel and when.
        var late = await VoteAsync(host, "bob", resId, "Rejected");
        Assert.Equal(HttpStatusCode.Conflict, late.Status);
        Assert.Equal(("cy", "Approved", "api"), ((string?)late.Body!["resolvedBy"], (string?)late.Body["decision"], (string?)late.Body["channel"]));
        Assert.StartsWith("Approved by cy at ", (string?)late.Body["detail"], StringComparison.Ordinal);
        Assert.EndsWith(", settling the vote (3 approvals).", (string?)late.Body["detail"], StringComparison.Ordinal);
        Assert.Equal(3, (int)late.Body["tally"]!["approvals"]!);

        // GET /api/tasks/{resId} carries the tally and the votes too.
        var (_, detail, _) = await AppHost.SendAsync(host.Client(host.Token("ann")), HttpMethod.Get, $"/api/tasks/{resId}");
        Assert.Equal(3, (int)detail!["tally"]!["approvals"]!);
        Assert.Equal(["ann", "bob", "cy"], detail["votes"]!.AsArray().Select(v => (string)v!["userId"]!));

        await using var db = host.Database.OpenContext();
        var node = await db.NodeRuns.SingleAsync(r => r.ExecutionId == executionId && r.NodeId == "vote");
        var output = JsonNode.Parse(node.OutputJson!)!;
        Assert.Equal(("Approved", "cy"), ((string?)output["decision"], (string?)output["actor"]));
        Assert.Equal(
            [("ann", "Approved", "api", "ann says Approved"), ("bob", "Approved", "email", null), ("cy", "Approved", "api", "cy says Approved")],
            output["votes"]!.AsArray().Select(v => ((string)v!["userId"]!, (string)v["decision"]!, (string)v["channel"]!, (string?)v["comment"])).ToArray());
        Assert.Equal(["Voted", "Voted", "Resumed"], await db.Audit.Where(a => a.ResId == resId).OrderBy(a => a.Id).Select(a => a.Action).ToListAsync());
        Assert.Single(await db.Queue.Where(q => q.ResId == resId && q.Kind == QueueKinds.Resume).ToListAsync());
        var events = await db.ExecutionEvents.Where(e => e.ExecutionId == executionId).OrderBy(e => e.Sequence).ToListAsync();
        var votedEvents = events.Where(e => e.Type == ExecutionEventTypes.Voted).Select(e => JsonNode.Parse(e.DataJson!)!).ToList();
        Assert.Equal([("ann", 1L), ("bob", 2L)], votedEvents.Select(v => ((string)v["actor"]!, (long)v["tally"]!["approvals"]!)).ToArray());
        Assert.Equal(events.Select((e, i) => (long)i + 1), events.Select(e => e.Sequence)); // gapless, in order
        Assert.Equal(ExecutionEventTypes.Resumed, events.Single(e => e.Sequence == events.First(x => x.Type == ExecutionEventTypes.Voted).Sequence + 2).Type);
    }

    /// <summary>
    /// A SignalR client following the run hears each vote as a <c>voted</c> event with the tally, in sequence; the approver's
    /// inbox keeps the task through the votes and loses it only when the deciding vote settles it.
    /// </summary>
    [Fact]
    public async Task The_hub_sends_each_vote_with_its_tally_and_the_inbox_keeps_the_task_until_it_is_settled()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Flow("hub", """{"approvals":2}""", """{"users":["ann","bob","cy"]}"""));
        var executionId = await host.StartRunAsync("hub");
        var resId = await host.WaitForTaskAsync(executionId);
        await using var watcher = await HubClient.ConnectAsync(host.Address, host.Token("watcher"));
        await watcher.SubscribeAsync(executionId);
        await using var cy = await HubClient.ConnectAsync(host.Address, host.Token("cy"));
        await cy.SubscribeInboxAsync();

        Assert.Equal("Voting", (string?)(await VoteAsync(host, "ann", resId, "Approved")).Body!["status"]);
        var voted = (await watcher.WaitForAsync(e => e.Any(x => x.Type == ExecutionEventTypes.Voted)))[^1];
        Assert.Equal(("ann", "Approved", "api", 1, 2), ((string?)voted.Data!["actor"], (string?)voted.Data["decision"], (string?)voted.Data["channel"],
            (int)voted.Data["tally"]!["approvals"]!, (int)voted.Data["tally"]!["required"]!));
        Assert.Equal("Waiting", voted.Status); // a node event, with the node's status

        Assert.Equal("Resuming", (string?)(await VoteAsync(host, "bob", resId, "Approved")).Body!["status"]);
        var events = await watcher.WaitForAsync(e => e.Any(x => x.Type == ExecutionEventTypes.Completed));
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.Sequence));
        Assert.Equal(ExecutionEventTypes.Resumed, events.Single(e => e.Sequence == voted.Sequence + 1).Type);
        await cy.WaitForInboxAsync(m => m.Any(x => x.Task.ResId == resId));
        Assert.Equal(("resolved", "bob"), (cy.InboxMessages.Single(x => x.Task.ResId == resId).Kind, cy.InboxMessages.Single(x => x.Task.ResId == resId).Task.ResolvedBy));
    }

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task Each_group_signs_off_through_a_member_of_its_own_and_one_person_counts_for_one_group(Provider provider)
    {
        await using var host = await AppHost.StartAsync(provider);
        await host.CreateWorkflowAsync(Flow("contract", """{"groups":["finance","legal"]}""", """{"groups":["finance","legal"]}"""));
        var executionId = await host.StartRunAsync("contract");
        var resId = await host.WaitForTaskAsync(executionId);

        var both = await VoteAsync(host, "pat", resId, "Approved", ["finance", "legal"]);
        Assert.Equal("""{"approvals":1,"rejections":0,"required":2,"waitingFor":["legal"]}""", both.Body!["tally"]!.ToJsonString());
        var sameGroup = await VoteAsync(host, "fay", resId, "Approved", ["finance"]);
        Assert.Equal("Resuming", (string?)sameGroup.Body!["status"]); // pat signs for legal, fay for finance

        await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
    }

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task A_rejection_ends_the_vote_unless_the_policy_waits_until_the_approvals_cannot_be_had(Provider provider)
    {
        await using var host = await AppHost.StartAsync(provider);
        await host.CreateWorkflowAsync(Flow("any", """{"approvals":2}""", """{"users":["ann","bob","cy"]}"""));
        await host.CreateWorkflowAsync(Flow("late", """{"approvals":2,"rejectOn":"unreachable"}""", """{"users":["ann","bob","cy"]}"""));

        var run = await host.StartRunAsync("any");
        var resId = await host.WaitForTaskAsync(run);
        Assert.Equal("Resuming", (string?)(await VoteAsync(host, "ann", resId, "Rejected")).Body!["status"]);
        Assert.Equal("rejected", (string?)(await host.WaitForAsync(run, s => (string?)s["status"] == "Completed"))["output"]!["outcome"]);

        run = await host.StartRunAsync("late");
        resId = await host.WaitForTaskAsync(run);
        var one = await VoteAsync(host, "ann", resId, "Rejected");
        Assert.Equal(("Voting", 1), ((string?)one.Body!["status"], (int)one.Body["tally"]!["rejections"]!));
        Assert.Equal("Resuming", (string?)(await VoteAsync(host, "bob", resId, "Rejected")).Body!["status"]); // cy alone cannot make two
        var done = await host.WaitForAsync(run, s => (string?)s["status"] == "Completed");
        Assert.Equal("rejected", (string?)done["output"]!["outcome"]);
    }

    [Fact]
    public async Task A_vote_open_at_the_deadline_keeps_its_votes_in_the_output_or_says_where_it_stood_in_the_failure()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Flow("lapse", """{"approvals":2}""", """{"users":["ann","bob"]}""", ",\"expiresAfter\":\"PT2S\",\"onExpire\":\"continue\""));
        await host.CreateWorkflowAsync(Flow("strict", """{"approvals":2}""", """{"users":["ann","bob"]}""", ",\"expiresAfter\":\"PT2S\""));
        var lapse = await host.StartRunAsync("lapse");
        var strict = await host.StartRunAsync("strict");
        Assert.Equal("Voting", (string?)(await VoteAsync(host, "ann", await host.WaitForTaskAsync(lapse), "Approved")).Body!["status"]);
        Assert.Equal("Voting", (string?)(await VoteAsync(host, "ann", await host.WaitForTaskAsync(strict), "Approved")).Body!["status"]);

        var continued = await host.WaitForAsync(lapse, s => (string?)s["status"] == "Completed", TimeSpan.FromSeconds(30));
        var output = continued["output"]!;
        Assert.True((bool)output["expired"]!);
        Assert.Equal("ann", (string?)output["votes"]![0]!["userId"]);
        Assert.Equal((1, 2), ((int)output["tally"]!["approvals"]!, (int)output["tally"]!["required"]!));

        var failed = await host.WaitForAsync(strict, s => (string?)s["status"] == "Failed", TimeSpan.FromSeconds(30));
        Assert.Contains("expired before its vote was settled (1 of 2 approvals).", (string?)failed["error"]);
    }

    [Fact]
    public async Task Unreachable_does_not_count_on_someone_distinct_approvers_bars()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync("""
            {"key":"two-steps","start":"lead","distinctApprovers":true,
             "nodes":[{"id":"lead","type":"approval","assignees":{"users":["ann"]}},
                      {"id":"board","type":"approval","assignees":{"users":["ann","bob","cy"]},"quorum":{"approvals":2,"rejectOn":"unreachable"}}],
             "edges":[{"from":"lead","to":"board"}]}
            """);
        var run = await host.StartRunAsync("two-steps");
        Assert.Equal(HttpStatusCode.Accepted, (await VoteAsync(host, "ann", await host.WaitForTaskAsync(run, "lead"), "Approved")).Status);
        var board = await host.WaitForTaskAsync(run, "board");

        // Ann answered the first step, so only Bob and Cy may vote here: Bob's rejection leaves Cy alone, short of two.
        Assert.Equal(HttpStatusCode.Forbidden, (await VoteAsync(host, "ann", board, "Approved")).Status);
        Assert.Equal("Resuming", (string?)(await VoteAsync(host, "bob", board, "Rejected")).Body!["status"]);
        var done = await host.WaitForAsync(run, s => (string?)s["status"] == "Completed");
        Assert.Equal("Rejected", (string?)done["output"]!["decision"]);
    }

    /// <summary>A person's history lists the votes they cast as well as the answers that settled tasks, each at its own time.</summary>
    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task History_lists_the_votes_a_person_cast_beside_the_answers_they_gave(Provider provider)
    {
        await using var host = await AppHost.StartAsync(provider);
        await host.CreateWorkflowAsync(Flow("history", """{"approvals":2}""", """{"users":["ann","bob","cy"]}"""));
        var settled = await host.WaitForTaskAsync(await host.StartRunAsync("history"));
        var open = await host.WaitForTaskAsync(await host.StartRunAsync("history"));
        await VoteAsync(host, "ann", settled, "Approved");
        await VoteAsync(host, "bob", settled, "Approved");
        await VoteAsync(host, "ann", open, "Approved");

        var queries = host.Services.GetRequiredService<ApprovalStudio.Web.Features.Inbox.InboxQueries>();
        static ApprovalStudio.Web.Infrastructure.Auth.Actor Person(string id) => new(AppHost.Tenant, id, id, new HashSet<string>(), new HashSet<string>());
        var ann = await queries.HistoryAsync(Person("ann"), new(), 0, 25, default);
        Assert.Equal(2, ann.Total);
        Assert.Equal([(open, "Voted Approved: ann says Approved"), (settled, "Voted Approved: ann says Approved")], ann.Rows.Select(r => (r.ResId, r.Answer)));
        Assert.All(ann.Rows, r => Assert.Equal("api", r.Channel));
        var bob = await queries.HistoryAsync(Person("bob"), new(), 0, 25, default);
        Assert.Equal((settled, "Approved: bob says Approved"), (Assert.Single(bob.Rows).ResId, bob.Rows[0].Answer));
        Assert.Equal([open], (await queries.HistoryAsync(Person("ann"), new(Search: "says"), 0, 1, default)).Rows.Select(r => r.ResId));
    }

    [Fact]
    public async Task The_requester_may_not_vote_and_all_does_not_wait_for_them()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Flow("team", """{"approvals":"all"}""", """{"users":["mia","max","moe"]}"""));
        using var started = await host.Client(host.Token("mia")).PostJsonAsync("/api/workflows/team/executions", """{"input":{}}""");
        var executionId = (string)(await started.ReadJsonAsync())!["executionId"]!;
        var resId = await host.WaitForTaskAsync(executionId);

        var refused = await VoteAsync(host, "mia", resId, "Approved");
        Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
        Assert.Contains("separation of duties", (string?)refused.Body!["detail"]);
        Assert.Equal(2, (int)(await host.StatusAsync(executionId))["waiting"]![0]!["tally"]!["required"]!);

        Assert.Equal("Voting", (string?)(await VoteAsync(host, "max", resId, "Approved")).Body!["status"]);
        Assert.Equal("Resuming", (string?)(await VoteAsync(host, "moe", resId, "Approved")).Body!["status"]);
        await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
    }

    [Fact]
    public async Task A_quorum_that_cannot_work_is_refused_when_the_workflow_is_saved()
    {
        await using var host = await AppHost.StartAsync();

        var (status, body, _) = await AppHost.SendAsync(host.Admin(), HttpMethod.Post, "/api/workflows",
            Flow("bad", """{"approvals":"all","rejectOn":"sometimes"}""", """{"groups":["finance"]}"""));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var errors = body!["errors"]!.AsObject();
        Assert.Contains(errors, e => e.Key == "nodes[0].quorum.approvals");
        Assert.Contains(errors, e => e.Key == "nodes[0].quorum.rejectOn");
    }

    /// <summary>
    /// Random voters, decisions and channels, all at once: whatever the interleaving, the node settles at most once — one
    /// continuation — as its policy says of the votes it counted, and nobody's vote counts twice.
    /// </summary>
    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task Concurrent_random_votes_settle_the_node_once_and_as_its_policy_says(Provider provider)
    {
        await using var host = await AppHost.StartAsync(provider);
        await host.CreateWorkflowAsync(Flow("crowd", """{"approvals":3,"rejectOn":"unreachable"}""", """{"users":["p0","p1","p2","p3","p4","p5"]}"""));
        var policy = new QuorumPolicy(3, [], [], RejectOn.Unreachable);
        string[] people = ["p0", "p1", "p2", "p3", "p4", "p5"];
        var rounds = Gen.Select(Gen.OneOf(people).Array[3, 10], Gen.Int[0, 9].Array[10]);
        var sample = 0;
        await rounds.SampleAsync(async (voters, dice) =>
        {
            var executionId = await host.StartRunAsync("crowd");
            var resId = await host.WaitForTaskAsync(executionId);
            var answers = await Task.WhenAll(voters.Select((v, i) => VoteAsync(host, v, resId, dice[i] < 7 ? "Approved" : "Rejected")));

            Assert.All(answers, a => Assert.Contains(a.Status, new[] { HttpStatusCode.Accepted, HttpStatusCode.Conflict }));
            await using var db = host.Database.OpenContext();
            var votes = await db.TaskVotes.Where(v => v.ResId == resId).OrderBy(v => v.Id).ToListAsync();
            Assert.Equal(votes.Count, votes.Select(v => v.UserId).Distinct().Count());
            var expected = policy.Evaluate([.. votes.Select(v => new Vote(Votes.Voter(v), v.Decision))],
                [.. people.Where(p => votes.All(v => v.UserId != p)).Select(p => new Voter(p, []))]);
            var task = await db.Tasks.SingleAsync(t => t.ResId == resId);
            var continuations = await db.Queue.CountAsync(q => q.ResId == resId && q.Kind == QueueKinds.Resume);
            Assert.Equal(expected.Decision is null ? 0 : 1, continuations);
            Assert.Equal(expected.Decision is null ? TaskStatuses.Pending : TaskStatuses.Resolved, task.Status);
            Assert.Equal(answers.Count(a => a.Status == HttpStatusCode.Accepted), votes.Count);
            if (expected.Decision is not null)
            {
                Assert.Equal(expected.Decision, (string?)JsonNode.Parse(task.OutputJson!)!["decision"]);
                Assert.Equal(votes[^1].UserId, task.ResolvedBy); // the vote that met the policy is the last one counted
                Assert.Single(answers, a => a.Status == HttpStatusCode.Accepted && (string?)a.Body!["status"] == "Resuming");
            }

            sample++;
        }, iter: 12, threads: 1);
        Assert.Equal(12, sample);
    }
}
