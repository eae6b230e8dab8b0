using System.Net;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>POST /api/executions/{resId}/resume, code by code (CONTRACT §4.1), on a real SQLite file and Kestrel port.</summary>
public sealed class ResumeApiTests : IAsyncLifetime
{
    private AppHost _host = null!;

    public async Task InitializeAsync()
    {
        _host = await AppHost.StartAsync();
        await _host.CreateWorkflowAsync(Flows.Review);
        await _host.CreateWorkflowAsync(Flows.Approval);
        await _host.CreateWorkflowAsync(Flows.Form);
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private async Task<(string ExecutionId, string ResId)> WaitingReviewAsync()
    {
        var executionId = await _host.StartRunAsync("review-flow", """{"doc":"Q3 plan"}""");
        return (executionId, await _host.WaitForTaskAsync(executionId));
    }

    private Task<(HttpStatusCode Status, JsonNode? Body, string? ContentType)> ResumeAsync(string resId, string token, string? body) =>
        ResumeAsync(_host, resId, token, body);

    private static Task<(HttpStatusCode Status, JsonNode? Body, string? ContentType)> ResumeAsync(AppHost host, string resId, string token, string? body) =>
        AppHost.SendAsync(host.Client(token), HttpMethod.Post, $"/api/executions/{resId}/resume", body);

    [Fact]
    public async Task Resume_is_accepted_with_202_and_the_run_continues_to_its_end()
    {
        var (executionId, resId) = await WaitingReviewAsync();
        var waiting = (await _host.StatusAsync(executionId))["waiting"]![0]!;
        Assert.Equal("Review", (string?)waiting["kind"]);
        Assert.Equal("Look at Q3 plan", (string?)waiting["title"]);
        Assert.True(resId.Length >= 43, "a resId carries at least 256 bits");

        using var response = await _host.Client(_host.Token("ann", ["ops"])).PostJsonAsync($"/api/executions/{resId}/resume", """{"acknowledged":true,"comment":"seen"}""");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await response.ReadJsonAsync();
        Assert.Equal(executionId, (string?)body!["executionId"]);
        Assert.Equal("Resuming", (string?)body["status"]);
        Assert.Equal($"/api/executions/{executionId}/status", response.Headers.Location?.ToString());

        var done = await _host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
        Assert.Equal("""{"seen":true,"by":"ann"}""", done["output"]!.ToJsonString());
        Assert.Empty(done["waiting"]!.AsArray());

        await using var db = _host.Database.OpenContext();
        var audit = await db.Audit.SingleAsync(a => a.ResId == resId);
        Assert.Equal(("Resumed", "ann", "api", "ask"), (audit.Action, audit.Actor, audit.Channel, audit.NodeId));
        var nodes = await db.NodeRuns.Where(r => r.ExecutionId == executionId).OrderBy(r => r.Id).ToListAsync();
        Assert.Equal([("ask", "Completed"), ("after", "Completed")], nodes.Select(n => (n.NodeId, n.Status)));
    }

    [Fact]
    public async Task An_unknown_resId_is_404_problem_json()
    {
        var (status, body, type) = await ResumeAsync("no-such-task", _host.Token("ann", ["ops"]), """{"acknowledged":true}""");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("application/problem+json", type);
        Assert.Equal(404, (int?)body!["status"]);
    }

    [Fact]
    public async Task No_token_an_expired_token_or_a_badly_signed_token_is_401_and_consumes_nothing()
    {
        var (executionId, resId) = await WaitingReviewAsync();
        var expired = _host.Tokens.Issue(new TokenRequest(AppHost.Tenant, "ann")
        {
            Groups = ["ops"], NotBefore = DateTimeOffset.UtcNow.AddHours(-2), Lifetime = TimeSpan.FromMinutes(-60),
        });
        var foreign = new TokenIssuer(new SymmetricSecurityKey(Convert.FromBase64String(AppHost.NewSigningKey())), TimeProvider.System)
            .Issue(new TokenRequest(AppHost.Tenant, "ann") { Groups = ["ops"] });

        var anonymous = await AppHost.SendAsync(_host.Anonymous, HttpMethod.Post, $"/api/executions/{resId}/resume", """{"acknowledged":true}""");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ResumeAsync(resId, expired, """{"acknowledged":true}""")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ResumeAsync(resId, foreign, """{"acknowledged":true}""")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ResumeAsync(resId, "not-a-jwt", """{"acknowledged":true}""")).Status);

        Assert.Equal(HttpStatusCode.Accepted, (await ResumeAsync(resId, _host.Token("ann", ["ops"]), """{"acknowledged":true}""")).Status);
        await _host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
    }

    [Fact]
    public async Task A_token_of_another_tenant_is_403_and_the_task_stays_resumable()
    {
        var (_, resId) = await WaitingReviewAsync();

        var (status, body, type) = await ResumeAsync(resId, _host.Token("ann", ["ops"], tenant: "globex"), """{"acknowledged":true}""");

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("application/problem+json", type);
        Assert.Contains("another tenant", (string?)body!["detail"]);
        Assert.Equal(HttpStatusCode.Accepted, (await ResumeAsync(resId, _host.Token("ann", ["ops"]), """{"acknowledged":true}""")).Status);
    }

    [Fact]
    public async Task Only_assignees_by_user_or_group_or_admins_may_resolve()
    {
        var (_, first) = await WaitingReviewAsync();
        var (_, second) = await WaitingReviewAsync();
        var (_, third) = await WaitingReviewAsync();

        var outsider = await ResumeAsync(first, _host.Token("eve", ["sales"]), """{"acknowledged":true}""");
        Assert.Equal(HttpStatusCode.Forbidden, outsider.Status);
        Assert.Contains("not an assignee", (string?)outsider.Body!["detail"]);

        Assert.Equal(HttpStatusCode.Accepted, (await ResumeAsync(first, _host.Token("bob"), """{"acknowledged":true}""")).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await ResumeAsync(second, _host.Token("zoe", ["ops"]), """{"acknowledged":true}""")).Status);
        Assert.Equal(HttpStatusCode.Accepted, (await ResumeAsync(third, _host.Token("root", roles: ["admin"]), """{"acknowledged":true}""")).Status);
    }

    [Fact]
    public async Task A_second_answer_is_409_naming_who_answered_and_when()
    {
        var (_, resId) = await WaitingReviewAsync();
        Assert.Equal(HttpStatusCode.Accepted, (await ResumeAsync(resId, _host.Token("bob"), """{"acknowledged":true}""")).Status);

        var (status, body, type) = await ResumeAsync(resId, _host.Token("ann", ["ops"]), """{"acknowledged":true}""");

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("application/problem+json", type);
        Assert.Equal("bob", (string?)body!["resolvedBy"]);
        Assert.Equal("api", (string?)body["channel"]);
        Assert.True(DateTime.UtcNow - body["resolvedAt"]!.GetValue<DateTime>() < TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task Malformed_json_is_400_and_the_task_stays_resumable()
    {
        var (executionId, resId) = await WaitingReviewAsync();

        var (status, body, type) = await ResumeAsync(resId, _host.Token("bob"), """{"acknowledged": tru""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("application/problem+json", type);
        Assert.Contains("Malformed JSON", body!["errors"]!["$"]![0]!.GetValue<string>());
        Assert.Equal("Suspended", (string?)(await _host.StatusAsync(executionId))["status"]);
        Assert.Equal(HttpStatusCode.Accepted, (await ResumeAsync(resId, _host.Token("bob"), """{"acknowledged":true}""")).Status);
    }

    [Fact]
    public async Task Wrong_types_for_an_approval_are_400_naming_each_field()
    {
        var executionId = await _host.StartRunAsync("approval-flow", """{"amount":10}""");
        var resId = await _host.WaitForTaskAsync(executionId);

        var (status, body, _) = await ResumeAsync(resId, _host.Token("mia"), """{"decision":5,"comment":["x"]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var errors = body!["errors"]!.AsObject();
        Assert.Equal(["comment", "decision"], errors.Select(e => e.Key).Order());

        var noComment = await ResumeAsync(resId, _host.Token("mia"), """{"decision":"Rejected"}""");
        Assert.Equal(HttpStatusCode.BadRequest, noComment.Status);
        Assert.Contains("comment is required", noComment.Body!["errors"]!["comment"]![0]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);

        Assert.Equal(HttpStatusCode.Accepted, (await ResumeAsync(resId, _host.Token("mia"), """{"decision":"Rejected","comment":"over budget"}""")).Status);
        var done = await _host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
        Assert.Equal("refused: over budget", (string?)done["output"]!["result"]);
    }

    [Fact]
    public async Task Missing_and_invalid_form_fields_are_400_naming_the_fields_then_a_valid_answer_is_accepted()
    {
        var executionId = await _host.StartRunAsync("form-flow");
        var resId = await _host.WaitForTaskAsync(executionId);
        Assert.Equal("UserForm", (string?)(await _host.StatusAsync(executionId))["waiting"]![0]!["kind"]);

        var (status, body, _) = await ResumeAsync(resId, _host.Token("hana", ["hr"]), """{"employeeName":"J","salary":"lots"}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var errors = body!["errors"]!.AsObject();
        Assert.Equal(["employeeName", "salary", "startDate"], errors.Select(e => e.Key).Order());
        Assert.Equal("Start date is required.", (string?)errors["startDate"]![0]);

        await using (var db = _host.Database.OpenContext())
        {
            Assert.Equal(TaskStatuses.Pending, (await db.Tasks.SingleAsync(t => t.ResId == resId)).Status);
            Assert.False(await db.Audit.AnyAsync(a => a.ResId == resId));
        }

        Assert.Equal(HttpStatusCode.Accepted,
            (await ResumeAsync(resId, _host.Token("hana", ["hr"]), """{"employeeName":"Jane Doe","startDate":"2026-06-01","salary":90000}""")).Status);
        var done = await _host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
        Assert.Equal("Jane Doe starts 2026-06-01", (string?)done["output"]!["line"]);
    }

    [Fact]
    public async Task An_expired_task_is_410_and_the_run_fails_by_its_expiry_policy()
    {
        // A host of its own on a clock that moves only when told. It starts at the real now and moves by seconds, so the bearer
        // tokens (issued, and checked by the JWT handler, on the real clock) stay valid.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await AppHost.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        await host.CreateWorkflowAsync(Flows.Expiring("fail"));
        var executionId = await host.StartRunAsync("expiring-fail");
        var resId = await host.WaitForTaskAsync(executionId);
        clock.Advance(TimeSpan.FromSeconds(1.2));

        var (status, body, type) = await ResumeAsync(host, resId, host.Token("bob"), """{"acknowledged":true}""");

        Assert.Equal(HttpStatusCode.Gone, status);
        Assert.Equal("application/problem+json", type);
        Assert.NotNull(body!["expiredAt"]);
        var failed = await host.WaitForAsync(executionId, s => (string?)s["status"] == "Failed");
        Assert.Contains("expired", (string?)failed["error"]);
        Assert.Equal("ask", (string?)failed["errorNodeId"]);
        Assert.Equal(HttpStatusCode.Gone, (await ResumeAsync(host, resId, host.Token("bob"), """{"acknowledged":true}""")).Status);
    }

    [Fact]
    public async Task An_expired_task_with_the_continue_policy_lets_the_run_go_on()
    {
        await _host.CreateWorkflowAsync(Flows.Expiring("continue"));
        var executionId = await _host.StartRunAsync("expiring-continue");

        var done = await _host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");

        Assert.True(done["output"]!["expired"]!.GetValue<bool>());
        await using var db = _host.Database.OpenContext();
        Assert.Equal(TaskStatuses.Expired, (await db.Tasks.SingleAsync(t => t.ExecutionId == executionId)).Status);
        Assert.Equal("system", (await db.Audit.SingleAsync(a => a.ExecutionId == executionId)).Actor);
    }

    [Fact]
    public async Task A_wait_left_when_its_run_fails_is_cancelled_and_answers_410_even_when_the_failing_step_created_it()
    {
        await _host.CreateWorkflowAsync("""
            {"key":"split","start":"go","nodes":[{"id":"go","type":"set","values":{"x":"1"}},
              {"id":"ask","type":"review","title":"Too late","assignees":{"users":["bob"]}},{"id":"stop","type":"fail","message":"stopped"}],
             "edges":[{"from":"go","to":"ask"},{"from":"go","to":"stop"}]}
            """);
        var executionId = await _host.StartRunAsync("split");
        var failed = await _host.WaitForAsync(executionId, s => (string?)s["status"] == "Failed");

        Assert.Empty(failed["waiting"]!.AsArray());
        await using var db = _host.Database.OpenContext();
        var task = await db.Tasks.SingleAsync(t => t.ExecutionId == executionId);
        Assert.Equal(TaskStatuses.Cancelled, task.Status);
        var (status, body, _) = await ResumeAsync(task.ResId, _host.Token("bob"), """{"acknowledged":true}""");
        Assert.Equal(HttpStatusCode.Gone, status);
        Assert.Contains("run ended", (string?)body!["detail"]);
    }

    [Fact]
    public async Task The_status_of_another_tenants_run_is_404()
    {
        var (executionId, _) = await WaitingReviewAsync();

        using var response = await _host.Client(_host.Token("ann", tenant: "globex")).GetAsync($"/api/executions/{executionId}/status");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
