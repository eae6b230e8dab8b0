using System.Net;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Tests.Api;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalStudio.Web.Tests.Resume;

/// <summary>
/// Separation of duties (issue 15): the person who started a run may not approve it — refused with a reason, through the
/// API and through a deep link alike, changing nothing — unless the approval node says <c>allowRequester</c>; another
/// assignee's answer goes through. On SQLite and PostgreSQL (the task's requester is read with it on both).
/// </summary>
public sealed class SeparationOfDutiesTests
{
    private static string Flow(string key, bool? allowRequester) => $$"""
        {"key":"{{key}}","start":"ok",
         "nodes":[{"id":"ok","type":"approval","title":"Approve my expense","assignees":{"users":["mia","max"]}{{(allowRequester is { } allow ? $",\"allowRequester\":{(allow ? "true" : "false")}" : "")}}}],
         "edges":[]}
        """;

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task The_requester_may_not_approve_their_own_run_on_any_channel_and_another_assignee_may(Provider provider)
    {
        await using var host = await AppHost.StartAsync(provider);
        await host.CreateWorkflowAsync(Flow("expense", allowRequester: null));
        var mia = host.Client(host.Token("mia"));
        var executionId = await StartAsAsync(mia, "expense");
        var resId = await host.WaitForTaskAsync(executionId);

        var refused = await AppHost.SendAsync(mia, HttpMethod.Post, $"/api/executions/{resId}/resume", """{"decision":"Approved"}""");
        Assert.Equal(HttpStatusCode.Forbidden, refused.Status);
        Assert.Contains("separation of duties", (string?)refused.Body!["detail"]);

        // Her deep link (email, Slack) is refused the same way, and a page would say so before she answers.
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var pipeline = scope.ServiceProvider.GetRequiredService<ResumePipeline>();
            var outcome = await pipeline.ResumeAsync(
                new ResumeCommand(resId, new AnswerGrant.DeepLink(AppHost.Tenant, "mia"), "email", JsonNode.Parse("""{"decision":"Approved"}""")), default);
            Assert.Contains("separation of duties", Assert.IsType<ResumeOutcome.Forbidden>(outcome).Reason);
        }

        await using (var db = host.Database.OpenContext())
        {
            var task = await db.Tasks.Include(t => t.Assignees).SingleAsync(t => t.ResId == resId);
            Assert.Equal(("mia", TaskStatuses.Pending), (task.RequestedBy, task.Status));
            Assert.Empty(await db.Audit.Where(a => a.ResId == resId).ToListAsync());
        }

        var accepted = await AppHost.SendAsync(host.Client(host.Token("max")), HttpMethod.Post, $"/api/executions/{resId}/resume", """{"decision":"Approved"}""");
        Assert.Equal(HttpStatusCode.Accepted, accepted.Status);
        await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
    }

    [Fact]
    public async Task An_approval_that_allows_the_requester_takes_their_answer()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Flow("team-call", allowRequester: true));
        var mia = host.Client(host.Token("mia"));
        var executionId = await StartAsAsync(mia, "team-call");
        var resId = await host.WaitForTaskAsync(executionId);

        var accepted = await AppHost.SendAsync(mia, HttpMethod.Post, $"/api/executions/{resId}/resume", """{"decision":"Approved"}""");

        Assert.Equal(HttpStatusCode.Accepted, accepted.Status);
        await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task With_distinct_approvers_whoever_answered_one_approval_step_may_not_answer_another(bool distinct)
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync($$$"""
            {"key":"two-steps","start":"manager","distinctApprovers":{{{(distinct ? "true" : "false")}}},
             "nodes":[{"id":"manager","type":"approval","assignees":{"groups":["leads"]}},
                      {"id":"finance","type":"approval","assignees":{"groups":["leads"]}}],
             "edges":[{"from":"manager","to":"finance"}]}
            """);
        var executionId = await host.StartRunAsync("two-steps");
        var lea = host.Client(host.Token("lea", ["leads"]));
        var first = await host.WaitForTaskAsync(executionId, "manager");
        Assert.Equal(HttpStatusCode.Accepted, (await AppHost.SendAsync(lea, HttpMethod.Post, $"/api/executions/{first}/resume", """{"decision":"Approved"}""")).Status);

        var second = await host.WaitForTaskAsync(executionId, "finance");
        var again = await AppHost.SendAsync(lea, HttpMethod.Post, $"/api/executions/{second}/resume", """{"decision":"Approved"}""");
        if (!distinct)
        {
            Assert.Equal(HttpStatusCode.Accepted, again.Status);
            return;
        }

        Assert.Equal(HttpStatusCode.Forbidden, again.Status);
        Assert.Contains("another approval step", (string?)again.Body!["detail"]);
        var other = await AppHost.SendAsync(host.Client(host.Token("leo", ["leads"])), HttpMethod.Post, $"/api/executions/{second}/resume", """{"decision":"Approved"}""");
        Assert.Equal(HttpStatusCode.Accepted, other.Status);
        await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
    }

    [Fact]
    public async Task Allow_requester_and_distinct_approvers_must_be_true_or_false()
    {
        await using var host = await AppHost.StartAsync();
        var (status, body, _) = await AppHost.SendAsync(host.Admin(), HttpMethod.Post, "/api/workflows", Flow("bad", null).Replace(
            "\"assignees\"", "\"allowRequester\":\"yes\",\"assignees\"", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(body!["errors"]!.AsObject(), e => e.Key.EndsWith("allowRequester", StringComparison.Ordinal));

        (status, body, _) = await AppHost.SendAsync(host.Admin(), HttpMethod.Post, "/api/workflows", Flow("bad", null).Replace(
            "\"start\"", "\"distinctApprovers\":1,\"start\"", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(body!["errors"]!.AsObject(), e => e.Key == "distinctApprovers");
    }

    private static async Task<string> StartAsAsync(HttpClient client, string key)
    {
        using var started = await client.PostJsonAsync($"/api/workflows/{key}/executions", """{"input":{}}""");
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        return (string)(await started.ReadJsonAsync())!["executionId"]!;
    }
}
