using System.Net;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Tests.Api;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace ApprovalStudio.Web.Tests.Infrastructure;

/// <summary>
/// The database goes away (PostgreSQL behind a TCP proxy the test cuts, open connections and all) and comes back: while
/// it is gone, requests that need it are 503 problem+json with <c>Retry-After</c> and change nothing; once it is back, the
/// app recovers by itself — the same answer is accepted and the worker continues the run — with no restart.
/// </summary>
public sealed class DatabaseOutageTests
{
    [Fact]
    public async Task While_postgres_is_unreachable_requests_are_503_with_retry_after_and_once_it_is_back_the_same_answer_goes_through()
    {
        await using var database = TestDatabase.Create(Provider.Postgres);
        var direct = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        await using var proxy = TcpProxy.Start(direct.Host!, direct.Port);
        var viaProxy = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port, Timeout = 3 };
        await using var host = await AppHost.StartAsync(Provider.Postgres, new Dictionary<string, string?>
        {
            ["ConnectionStrings:Default"] = viaProxy.ConnectionString,
        }, database);
        await host.CreateWorkflowAsync(Flows.Review);
        var executionId = await host.StartRunAsync("review-flow", """{"doc":"plan"}""");
        var resId = await host.WaitForTaskAsync(executionId);
        var bob = host.Client(host.Token("bob"));

        proxy.Cut();
        using (var refused = await bob.PostJsonAsync($"/api/executions/{resId}/resume", """{"acknowledged":true,"comment":"seen"}"""))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.Equal("The database is unavailable.", (string?)JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["title"]);
            Assert.Equal(TimeSpan.FromSeconds(5), refused.Headers.RetryAfter?.Delta);
        }

        var status = await AppHost.SendAsync(bob, HttpMethod.Get, $"/api/executions/{executionId}/status");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status.Status);
        using (var ready = await host.Anonymous.GetAsync("/health/ready"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        }

        // Nothing was written: the task is still open (read past the proxy).
        await using (var db = database.OpenContext())
        {
            Assert.Equal(TaskStatuses.Pending, await db.Tasks.Where(t => t.ResId == resId).Select(t => t.Status).SingleAsync());
            Assert.Empty(await db.Audit.Where(a => a.ResId == resId).ToListAsync());
        }

        proxy.Restore();
        // The pool's connections died with the cut: the first tries after it may still meet one, and are 503 too.
        var accepted = await Poll.UntilAsync(async () =>
        {
            var answer = await AppHost.SendAsync(bob, HttpMethod.Post, $"/api/executions/{resId}/resume", """{"acknowledged":true,"comment":"seen"}""");
            Assert.True(answer.Status is HttpStatusCode.Accepted or HttpStatusCode.ServiceUnavailable, $"{answer.Status}: {answer.Body}");
            return answer.Status == HttpStatusCode.Accepted ? answer.Body : null;
        }, TimeSpan.FromSeconds(20), () => "the answer was never accepted after the database came back");
        Assert.Equal(executionId, (string?)accepted["executionId"]);

        var done = await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
        Assert.Equal("""{"seen":true,"by":"bob"}""", done["output"]!.ToJsonString());
        await using var check = database.OpenContext();
        Assert.Single(await check.Audit.Where(a => a.ResId == resId).ToListAsync());
    }
}
