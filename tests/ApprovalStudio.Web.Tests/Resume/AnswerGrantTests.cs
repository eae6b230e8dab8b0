using System.Net;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalStudio.Web.Tests.Resume;

/// <summary>
/// The pipeline decides per grant why a caller may answer — an assignee, a deep link's recipient (with their groups of
/// now), the workflow's webhook secret (its wait nodes only), an agent runtime (tool calls only) — and the audit names it.
/// </summary>
public sealed class AnswerGrantTests : IAsyncLifetime
{
    private const string Approval = """
        {"key":"grant-approval","name":"Grant approval","start":"ask",
         "nodes":[{"id":"ask","type":"approval","title":"Approve","assignees":{"groups":["ops"]}}],"edges":[]}
        """;

    private const string Hook = """
        {"key":"grant-hook","name":"Grant hook","start":"wait","nodes":[{"id":"wait","type":"wait"}],"edges":[]}
        """;

    private AppHost _host = null!;

    public async Task InitializeAsync()
    {
        _host = await AppHost.StartAsync();
        await _host.CreateWorkflowAsync(Approval);
        await _host.CreateWorkflowAsync(Hook);
        await SetGroupsAsync("dee", "ops");
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private async Task SetGroupsAsync(string user, params string[] groups)
    {
        using var response = await _host.Admin().PutAsync($"/api/users/{user}", AppHost.Json(new JsonObject { ["name"] = "Dee", ["groups"] = new JsonArray([.. groups.Select(g => JsonValue.Create(g))]) }.ToJsonString()));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<ResumeOutcome> ResumeAsync(string resId, AnswerGrant grant, string body, string channel = "test")
    {
        await using var scope = _host.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ResumePipeline>().ResumeAsync(new ResumeCommand(resId, grant, channel, JsonNode.Parse(body)), CancellationToken.None);
    }

    private TaskRecord Task(string resId)
    {
        using var db = _host.Database.OpenContext();
        return db.Tasks.AsNoTracking().Single(t => t.ResId == resId);
    }

    private AuditRecord Audit(string resId)
    {
        using var db = _host.Database.OpenContext();
        return db.Audit.AsNoTracking().Single(a => a.ResId == resId);
    }

    [Fact]
    public async Task A_deep_link_whose_recipient_left_the_tasks_group_is_refused_on_its_page_and_by_the_pipeline_until_they_are_back()
    {
        var resId = await _host.WaitForTaskAsync(await _host.StartRunAsync("grant-approval"));
        using var created = await _host.Admin().PostAsync($"/api/tasks/{resId}/links", AppHost.Json("""{"userId":"dee"}"""));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var link = (string)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["url"]!;

        await SetGroupsAsync("dee");

        using (var request = new HttpRequestMessage(HttpMethod.Get, link))
        {
            request.Headers.Accept.ParseAdd("text/html");
            using var page = await _host.Anonymous.SendAsync(request);
            Assert.Equal(HttpStatusCode.Forbidden, page.StatusCode);
            Assert.Contains("no longer one of its assignees", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var refused = Assert.IsType<ResumeOutcome.Forbidden>(await ResumeAsync(resId, new AnswerGrant.DeepLink(AppHost.Tenant, "dee"), """{"decision":"Approved"}""", "email"));
        Assert.Contains("no longer one of its assignees", refused.Reason, StringComparison.Ordinal);
        Assert.Equal(TaskStatuses.Pending, Task(resId).Status);

        await SetGroupsAsync("dee", "ops");
        Assert.IsType<ResumeOutcome.Accepted>(await ResumeAsync(resId, new AnswerGrant.DeepLink(AppHost.Tenant, "dee"), """{"decision":"Approved"}""", "email"));
        var audit = Audit(resId);
        Assert.Equal(("dee", "Dee", "email", AnswerGrant.DeepLinkName), (audit.Actor, audit.ActorName, audit.Channel, audit.Grant));
    }

    [Fact]
    public async Task A_webhook_secret_answers_only_wait_nodes_of_its_own_workflow_and_an_agent_runtime_only_tool_calls()
    {
        var approval = await _host.WaitForTaskAsync(await _host.StartRunAsync("grant-approval"));
        var hook = await _host.WaitForTaskAsync(await _host.StartRunAsync("grant-hook"));
        var member = new Actor(AppHost.Tenant, "agent", "Agent", new HashSet<string>(), new HashSet<string>());

        var refusals = new[]
        {
            await ResumeAsync(approval, new AnswerGrant.WebhookSecret(AppHost.Tenant, "grant-approval"), """{"decision":"Approved"}"""),
            await ResumeAsync(hook, new AnswerGrant.WebhookSecret(AppHost.Tenant, "grant-approval"), "{}"),
            await ResumeAsync(hook, new AnswerGrant.WebhookSecret("globex", "grant-hook"), "{}"),
            await ResumeAsync(approval, new AnswerGrant.AgentRuntime(member), """{"decision":"Approved"}"""),
            await ResumeAsync(hook, new AnswerGrant.AgentRuntime(member), "{}"),
            await ResumeAsync(hook, new AnswerGrant.Assignee(member), "{}"),
        };

        Assert.All(refusals, r => Assert.IsType<ResumeOutcome.Forbidden>(r));
        Assert.Equal((TaskStatuses.Pending, TaskStatuses.Pending), (Task(approval).Status, Task(hook).Status));

        Assert.IsType<ResumeOutcome.Accepted>(await ResumeAsync(hook, new AnswerGrant.WebhookSecret(AppHost.Tenant, "grant-hook"), "{}", "webhook"));
        Assert.Equal(("webhook", AnswerGrant.WebhookSecretName), (Audit(hook).Actor, Audit(hook).Grant));
    }

    [Fact]
    public async Task An_answer_through_the_api_is_recorded_as_the_assignees()
    {
        var resId = await _host.WaitForTaskAsync(await _host.StartRunAsync("grant-approval"));

        using var response = await _host.Client(_host.Token("ann", ["ops"])).PostJsonAsync($"/api/executions/{resId}/resume", """{"decision":"Approved"}""");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var audit = Audit(resId);
        Assert.Equal(("ann", "api", AnswerGrant.AssigneeName), (audit.Actor, audit.Channel, audit.Grant));
    }
}
