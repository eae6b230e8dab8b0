using System.Net;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Tests.Cluster;

/// <summary>
/// Two votes that each complete a quorum, at the same instant, on two app processes sharing one PostgreSQL database
/// (issue 15): one of them settles the approval and continues the run — once — and the other is told who decided; its vote
/// is not counted. Without the task's row taken first, both would read one earlier vote and both try to settle it.
/// </summary>
public sealed class QuorumRaceTests
{
    private const int Runs = 40;

    private const string Definition = """
        {"key":"pair","start":"sign","nodes":[{"id":"sign","type":"approval","title":"Sign {{input.n}}","assignees":{"users":["ann","bob","cy"]},"quorum":{"approvals":2}},
          {"id":"after","type":"set","values":{"by":"sign.actor"}}],"edges":[{"from":"sign","to":"after"}]}
        """;

    [Fact]
    public async Task Two_votes_completing_a_quorum_at_once_on_two_instances_continue_the_run_once()
    {
        await using var database = TestDatabase.Create(Provider.Postgres);
        var key = AppHost.NewSigningKey();
        var settings = new Dictionary<string, string?> { ["RateLimits:Enabled"] = "false" };
        await using var first = await AppProcess.StartAsync(database, key, settings); // applies the migrations
        await using var second = await AppProcess.StartAsync(database, key, settings);
        using var admin = AppHost.BearerClient(first.Address, AppHost.IssueToken(key, "admin", roles: [Actor.AdminRole]));
        using (var created = await admin.PostJsonAsync("/api/workflows", Definition))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var runs = new List<string>();
        for (var n = 0; n < Runs; n++)
        {
            using var started = await admin.PostJsonAsync("/api/workflows/pair/executions", "{\"input\":{\"n\":" + n + "}}");
            runs.Add((string)(await started.ReadJsonAsync())!["executionId"]!);
        }

        var tasks = await Poll.UntilAsync(async () =>
        {
            await using var db = database.OpenContext();
            var pending = await db.Tasks.AsNoTracking().Where(t => t.Status == TaskStatuses.Pending).Select(t => t.ResId).ToListAsync();
            return pending.Count == Runs ? pending : null;
        }, TimeSpan.FromSeconds(60), () => "every run waiting at its approval");

        using var ann = AppHost.BearerClient(first.Address, AppHost.IssueToken(key, "ann"));
        using var bob = AppHost.BearerClient(first.Address, AppHost.IssueToken(key, "bob"));
        using var cy = AppHost.BearerClient(second.Address, AppHost.IssueToken(key, "cy"));
        var winners = new Dictionary<string, string>();
        foreach (var resId in tasks)
        {
            var opening = await AppHost.SendAsync(ann, HttpMethod.Post, $"/api/executions/{resId}/resume", """{"decision":"Approved"}""");
            Assert.Equal("Voting", (string?)opening.Body!["status"]);

            // Bob on one instance and Cy on the other, released together: each vote would complete the quorum.
            using var go = new Barrier(2);
            var votes = await Task.WhenAll(
                Task.Run(() => { go.SignalAndWait(); return AppHost.SendAsync(bob, HttpMethod.Post, $"/api/executions/{resId}/resume", """{"decision":"Approved"}"""); }),
                Task.Run(() => { go.SignalAndWait(); return AppHost.SendAsync(cy, HttpMethod.Post, $"/api/executions/{resId}/resume", """{"decision":"Approved"}"""); }));

            var won = Assert.Single(votes, v => v.Status == HttpStatusCode.Accepted);
            Assert.Equal("Resuming", (string?)won.Body!["status"]);
            var lost = Assert.Single(votes, v => v.Status == HttpStatusCode.Conflict);
            winners[resId] = (string)lost.Body!["resolvedBy"]!;
        }

        await Poll.UntilAsync(async () =>
        {
            await using var db = database.OpenContext();
            return await db.Executions.CountAsync(e => e.Status == "Completed") == Runs ? true : (bool?)null;
        }, TimeSpan.FromSeconds(60), () => "every run completed");

        await using var check = database.OpenContext();
        foreach (var resId in tasks)
        {
            var task = await check.Tasks.SingleAsync(t => t.ResId == resId);
            Assert.Equal(winners[resId], task.ResolvedBy);
            Assert.Equal(1, await check.Queue.CountAsync(q => q.ResId == resId && q.Kind == QueueKinds.Resume));
            var votes = await check.TaskVotes.Where(v => v.ResId == resId).OrderBy(v => v.Id).Select(v => v.UserId).ToListAsync();
            Assert.Equal(["ann", winners[resId]], votes);
            Assert.Equal(["ann", winners[resId]], JsonNode.Parse(task.OutputJson!)!["votes"]!.AsArray().Select(v => (string)v!["userId"]!));
        }

        Assert.Equal(Runs, await check.NodeRuns.CountAsync(r => r.NodeId == "after" && r.Status == "Completed"));
    }
}
