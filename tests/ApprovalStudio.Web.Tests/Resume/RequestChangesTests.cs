using System.Net;
using ApprovalStudio.Web.Tests.Api;

namespace ApprovalStudio.Web.Tests.Resume;

/// <summary>
/// Request changes (issue 15): a third decision with a mandatory comment that sends the run along an edge of its own —
/// here back to a form the requester fills again — and the approval asks again after it. Through the API, on SQLite and
/// PostgreSQL.
/// </summary>
public sealed class RequestChangesTests
{
    public const string Expense = """
        {"key":"expense","start":"manager",
         "nodes":[{"id":"manager","type":"approval","title":"Approve {{input.amount}} EUR","assignees":{"users":["mia"]}},
                  {"id":"revise","type":"form","title":"Revise your claim: {{manager.comment}}","assignees":{"users":["rita"]},
                   "schema":{"type":"object","required":["note"],"properties":{"note":{"type":"string","title":"What changed"}}}},
                  {"id":"paid","type":"set","values":{"result":"'paid'","note":"revise.note"}}],
         "edges":[{"from":"manager","to":"revise","when":"manager.decision == 'RequestChanges'"},
                  {"from":"revise","to":"manager"},
                  {"from":"manager","to":"paid","when":"manager.decision == 'Approved'"}]}
        """;

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task Changes_requested_with_a_comment_send_the_claim_back_and_the_approval_asks_again(Provider provider)
    {
        await using var host = await AppHost.StartAsync(provider);
        await host.CreateWorkflowAsync(Expense);
        var executionId = await host.StartRunAsync("expense", """{"amount":120}""");
        var first = await host.WaitForTaskAsync(executionId, "manager");
        var mia = host.Client(host.Token("mia"));

        var bare = await AppHost.SendAsync(mia, HttpMethod.Post, $"/api/executions/{first}/resume", """{"decision":"RequestChanges"}""");
        Assert.Equal(HttpStatusCode.BadRequest, bare.Status);
        Assert.NotNull(bare.Body!["errors"]!["comment"]);

        var sentBack = await AppHost.SendAsync(mia, HttpMethod.Post, $"/api/executions/{first}/resume", """{"decision":"RequestChanges","comment":"add the receipt"}""");
        Assert.Equal(HttpStatusCode.Accepted, sentBack.Status);

        var status = await host.WaitForAsync(executionId, s => s["waiting"]!.AsArray().Any(w => (string?)w!["nodeId"] == "revise"));
        Assert.Equal("Revise your claim: add the receipt", (string?)status["waiting"]![0]!["title"]);
        var revise = (string)status["waiting"]![0]!["resId"]!;
        var resubmitted = await AppHost.SendAsync(host.Client(host.Token("rita")), HttpMethod.Post, $"/api/executions/{revise}/resume", """{"note":"receipt attached"}""");
        Assert.Equal(HttpStatusCode.Accepted, resubmitted.Status);

        var again = await host.WaitForTaskAsync(executionId, "manager");
        Assert.NotEqual(first, again);
        var approved = await AppHost.SendAsync(mia, HttpMethod.Post, $"/api/executions/{again}/resume", """{"decision":"Approved"}""");
        Assert.Equal(HttpStatusCode.Accepted, approved.Status);

        var done = await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
        Assert.Equal("""{"result":"paid","note":"receipt attached"}""", done["output"]!.ToJsonString());
    }
}
