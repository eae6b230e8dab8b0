using System.Net;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>GET /api/tasks and /api/tasks/{resId}: what an actor may answer, and what it needs to answer it.</summary>
public sealed class TasksApiTests : IAsyncLifetime
{
    private AppHost _host = null!;

    public async Task InitializeAsync()
    {
        _host = await AppHost.StartAsync();
        await _host.CreateWorkflowAsync(Flows.Review);
        await _host.CreateWorkflowAsync(Flows.Form);
        await _host.CreateWorkflowAsync(Flows.Review, tenant: "globex");
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task The_list_holds_the_pending_tasks_an_actor_may_answer_in_its_tenant_only()
    {
        var review = await _host.StartRunAsync("review-flow");
        var form = await _host.StartRunAsync("form-flow");
        var foreign = await _host.StartRunAsync("review-flow", tenant: "globex");
        var reviewTask = await _host.WaitForTaskAsync(review);
        var formTask = await _host.WaitForTaskAsync(form);
        await AppHost.WaitForAsync(_host.Address, _host.Token("r", tenant: "globex"), foreign, s => s["waiting"]!.AsArray().Count == 1);

        async Task<string[]> ListAsync(string token) =>
            (await AppHost.SendAsync(_host.Client(token), HttpMethod.Get, "/api/tasks")).Body!["items"]!.AsArray().Select(i => (string)i!["resId"]!).ToArray();

        Assert.Equal([reviewTask], await ListAsync(_host.Token("bob")));
        Assert.Equal([reviewTask], await ListAsync(_host.Token("zoe", ["ops"])));
        Assert.Equal([formTask], await ListAsync(_host.Token("hana", ["hr"])));
        Assert.Empty(await ListAsync(_host.Token("eve", ["sales"])));
        Assert.Equal([formTask, reviewTask], await ListAsync(_host.Token("root", roles: ["admin"])));
        Assert.Single(await ListAsync(_host.Token("bob", tenant: "globex")));
        Assert.DoesNotContain(reviewTask, await ListAsync(_host.Token("bob", tenant: "globex")));

        using var answered = await _host.Client(_host.Token("bob")).PostJsonAsync($"/api/executions/{reviewTask}/resume", """{"acknowledged":true}""");
        Assert.Empty(await ListAsync(_host.Token("bob")));
    }

    [Fact]
    public async Task A_task_shows_its_schema_and_after_the_answer_who_gave_it()
    {
        var form = await _host.StartRunAsync("form-flow");
        var resId = await _host.WaitForTaskAsync(form);
        var hana = _host.Client(_host.Token("hana", ["hr"]));

        var detail = (await AppHost.SendAsync(hana, HttpMethod.Get, $"/api/tasks/{resId}")).Body!;
        Assert.Equal(("UserForm", "Pending", "details"), ((string?)detail["kind"], (string?)detail["status"], (string?)detail["nodeId"]));
        Assert.Equal("Employee name", (string?)detail["schema"]!["properties"]!["employeeName"]!["title"]);
        Assert.Equal(["hr"], detail["assignees"]!["groups"]!.AsArray().Select(g => (string)g!));

        using var answered = await hana.PostJsonAsync($"/api/executions/{resId}/resume", """{"employeeName":"Jane","startDate":"2026-06-01","salary":1}""");
        var after = (await AppHost.SendAsync(hana, HttpMethod.Get, $"/api/tasks/{resId}")).Body!;
        Assert.Equal(("Resolved", "hana", "api"), ((string?)after["status"], (string?)after["resolvedBy"], (string?)after["channel"]));
        Assert.Equal("Jane", (string?)after["response"]!["employeeName"]);
    }

    [Fact]
    public async Task A_task_is_403_for_others_and_404_when_unknown()
    {
        var review = await _host.StartRunAsync("review-flow");
        var resId = await _host.WaitForTaskAsync(review);

        Assert.Equal(HttpStatusCode.Forbidden, (await AppHost.SendAsync(_host.Client(_host.Token("eve")), HttpMethod.Get, $"/api/tasks/{resId}")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await AppHost.SendAsync(_host.Client(_host.Token("bob", tenant: "globex")), HttpMethod.Get, $"/api/tasks/{resId}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await AppHost.SendAsync(_host.Client(_host.Token("bob")), HttpMethod.Get, "/api/tasks/nope")).Status);
    }

    [Theory]
    [InlineData("?page=0", "page")]
    [InlineData("?pageSize=500", "pageSize")]
    [InlineData("?page=1073741825&pageSize=2", "page")]
    [InlineData("?page=2147483647&pageSize=200", "page")]
    public async Task Bad_paging_is_400_naming_the_parameter(string query, string field)
    {
        var (status, body, _) = await AppHost.SendAsync(_host.Client(_host.Token("bob")), HttpMethod.Get, "/api/tasks" + query);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(body!["errors"]![field]);
    }

    [Theory]
    [InlineData("?page=abc", "page")]
    [InlineData("?page=99999999999", "page")]
    [InlineData("?pageSize=1e3", "pageSize")]
    public async Task A_paging_value_that_is_not_an_int_is_a_problem_json_400_naming_the_parameter(string query, string parameter)
    {
        var (status, body, type) = await AppHost.SendAsync(_host.Client(_host.Token("bob")), HttpMethod.Get, "/api/tasks" + query);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("application/problem+json", type);
        Assert.Contains($"\"int {parameter}\"", (string?)body!["detail"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_last_reachable_page_is_answered_empty_not_wrapped_around_to_the_first()
    {
        await _host.WaitForTaskAsync(await _host.StartRunAsync("review-flow"));

        var (status, body, _) = await AppHost.SendAsync(_host.Client(_host.Token("bob")), HttpMethod.Get, "/api/tasks?page=1073741824&pageSize=2");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Empty(body!["items"]!.AsArray());
    }
}
