using System.Net;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Tests.ResumeFrom;

/// <summary>POST /workflows/runs/{runId}/resume-from/{nodeId} (CONTRACT §4.3, seed resume-from-node).</summary>
public sealed class ResumeFromTests : IAsyncLifetime
{
    private AppHost _host = null!;
    private FlakyTarget _target = null!;

    public async Task InitializeAsync()
    {
        _target = await FlakyTarget.StartAsync();
        _host = await AppHost.StartAsync(settings: LoopbackTargets.Allowed);
        await _host.CreateWorkflowAsync("""
            {"key":"sync","start":"prepare",
             "nodes":[{"id":"prepare","type":"set","values":{"order":"input.order","total":"input.qty * 3"}},
                      {"id":"notify","type":"http","method":"POST","url":"TARGET/hook","body":{"order":"{{prepare.order}}","total":"{{prepare.total}}"}},
                      {"id":"done","type":"set","values":{"sent":"notify.status == 200","total":"prepare.total"}}],
             "edges":[{"from":"prepare","to":"notify"},{"from":"notify","to":"done"}]}
            """.Replace("TARGET/", _target.Address.ToString(), StringComparison.Ordinal));
        await _host.CreateWorkflowAsync(Api.Flows.Review);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        await _target.DisposeAsync();
    }

    private async Task<string> FailedRunAsync()
    {
        _target.Healthy = false;
        var run = await _host.StartRunAsync("sync", """{"order":"A-7","qty":2}""");
        await _host.WaitForAsync(run, s => (string?)s["status"] == "Failed");
        return run;
    }

    [Fact]
    public async Task A_run_that_failed_at_an_http_node_is_resumed_from_the_node_before_and_the_new_run_completes_leaving_the_old_one_alone()
    {
        var failed = await FailedRunAsync();
        await using var db = _host.Database.OpenContext();
        var before = await db.NodeRuns.CountAsync(r => r.ExecutionId == failed);
        _target.Healthy = true;

        var (status, body, _) = await AppHost.SendAsync(_host.Client(_host.Token("ops")), HttpMethod.Post, $"/workflows/runs/{failed}/resume-from/prepare");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Workflow resumed successfully from node 'prepare'.", (string?)body!["message"]);
        var run = body["new_run"]!;
        Assert.Equal("completed", (string?)run["status"]);
        Assert.NotEqual(failed, (string?)run["id"]);
        Assert.NotNull(run["started_at"]);
        Assert.NotNull(run["completed_at"]);
        Assert.True((double?)run["duration_in_seconds"] >= 0);
        Assert.Equal(["notify:http:success", "done:set:success"], run["logs"]!.AsArray().Select(l => $"{l!["node_id"]}:{l["component_id"]}:{l["status"]}"));
        Assert.Equal(200, (int?)run["logs"]![0]!["output"]!["status"]);
        Assert.Equal("""{"order":"A-7","total":6}""", _target.LastBody);

        var newRun = await _host.StatusAsync((string)run["id"]!);
        Assert.Equal("""{"sent":true,"total":6}""", newRun["output"]!.ToJsonString());
        var old = await _host.StatusAsync(failed);
        Assert.Equal("Failed", (string?)old["status"]);
        Assert.Equal(before, await db.NodeRuns.CountAsync(r => r.ExecutionId == failed));
        var record = await db.Executions.SingleAsync(e => e.Id == (string)run["id"]!);
        Assert.Equal((failed, "prepare"), (record.ResumedFromExecutionId, record.ResumedFromNodeId));
        Assert.Contains(failed, (await db.ExecutionEvents.FirstAsync(e => e.ExecutionId == record.Id && e.Sequence == 1)).DataJson);
    }

    [Fact]
    public async Task Resume_from_is_409_for_a_run_that_did_not_fail_or_a_node_that_did_not_complete_and_404_for_the_unknown()
    {
        var failed = await FailedRunAsync();
        var waiting = await _host.StartRunAsync("review-flow");
        await _host.WaitForTaskAsync(waiting);
        var client = _host.Client(_host.Token("ops"));

        Assert.Equal(HttpStatusCode.Conflict, (await AppHost.SendAsync(client, HttpMethod.Post, $"/workflows/runs/{waiting}/resume-from/ask")).Status);
        var notCompleted = await AppHost.SendAsync(client, HttpMethod.Post, $"/workflows/runs/{failed}/resume-from/notify");
        Assert.Equal(HttpStatusCode.Conflict, notCompleted.Status);
        Assert.Contains("did not complete", (string?)notCompleted.Body!["detail"]);
        Assert.Equal(HttpStatusCode.NotFound, (await AppHost.SendAsync(client, HttpMethod.Post, $"/workflows/runs/{failed}/resume-from/ghost")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await AppHost.SendAsync(client, HttpMethod.Post, "/workflows/runs/nope/resume-from/prepare")).Status);
        Assert.Equal(HttpStatusCode.NotFound,
            (await AppHost.SendAsync(_host.Client(_host.Token("spy", tenant: "globex")), HttpMethod.Post, $"/workflows/runs/{failed}/resume-from/prepare")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await AppHost.SendAsync(_host.Anonymous, HttpMethod.Post, $"/workflows/runs/{failed}/resume-from/prepare")).Status);
    }
}
