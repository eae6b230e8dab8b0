using System.Net;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>POST /api/workflows and starting runs (CONTRACT §3).</summary>
public sealed class WorkflowsApiTests : IAsyncLifetime
{
    private AppHost _host = null!;

    public async Task InitializeAsync() => _host = await AppHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Creating_a_workflow_is_201_with_a_webhook_secret_and_the_same_key_again_is_the_next_version()
    {
        using var first = await _host.Admin().PostJsonAsync("/api/workflows", Flows.Review);
        using var second = await _host.Admin().PostJsonAsync("/api/workflows", Flows.Review.Replace("\"Review\"", "\"Review v2\"", StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var created = await first.ReadJsonAsync();
        Assert.Equal(("review-flow", 1), ((string?)created!["key"], (int?)created["version"]));
        Assert.StartsWith("whsec_", (string?)created["webhookSecret"]);
        Assert.Equal("/api/workflows/review-flow/versions/1", first.Headers.Location?.ToString());

        var next = await second.ReadJsonAsync();
        Assert.Equal(2, (int?)next!["version"]);
        var latest = await AppHost.SendAsync(_host.Admin(), HttpMethod.Get, "/api/workflows/review-flow");
        Assert.Equal(("Review v2", 2), ((string?)latest.Body!["name"], (int?)latest.Body["version"]));
    }

    [Fact]
    public async Task An_invalid_definition_is_400_listing_every_problem_and_saves_nothing()
    {
        var (status, body, type) = await AppHost.SendAsync(_host.Admin(), HttpMethod.Post, "/api/workflows", """
            {"key":"broken","start":"a",
             "nodes":[{"id":"a","type":"approval","assignees":{"users":["u"]}},{"id":"a","type":"set","values":{}},{"id":"b","type":"nope"},
                      {"id":"f","type":"form","assignees":{"users":["u"]},"schema":{"type":"object","properties":{"x":{"type":"text"}}}}],
             "edges":[{"from":"a","to":"ghost"},{"from":"a","to":"f","when":"a.decision ==="}]}
            """);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("application/problem+json", type);
        var errors = body!["errors"]!.AsObject().Select(e => e.Key).ToHashSet();
        Assert.Superset(new HashSet<string> { "nodes[1].id", "nodes[2].type", "nodes[3].schema.properties.x.type", "edges[0].to", "edges[1].when" }, errors);
        Assert.Equal(HttpStatusCode.NotFound, (await AppHost.SendAsync(_host.Admin(), HttpMethod.Get, "/api/workflows/broken")).Status);
    }

    [Fact]
    public async Task Malformed_json_for_a_definition_is_400()
    {
        var (status, body, _) = await AppHost.SendAsync(_host.Admin(), HttpMethod.Post, "/api/workflows", """{"key": """);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotNull(body!["errors"]!["$"]);
    }

    [Fact]
    public async Task Only_admins_define_workflows_and_only_signed_in_actors_at_all()
    {
        var member = await AppHost.SendAsync(_host.Client(_host.Token("ann")), HttpMethod.Post, "/api/workflows", Flows.Review);
        var anonymous = await AppHost.SendAsync(_host.Anonymous, HttpMethod.Post, "/api/workflows", Flows.Review);

        Assert.Equal(HttpStatusCode.Forbidden, member.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.Status);
    }

    [Fact]
    public async Task Workflows_are_per_tenant()
    {
        await _host.CreateWorkflowAsync(Flows.Review);

        var other = _host.Client(_host.Token("gus", tenant: "globex"));
        Assert.Equal(HttpStatusCode.NotFound, (await AppHost.SendAsync(other, HttpMethod.Get, "/api/workflows/review-flow")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await AppHost.SendAsync(other, HttpMethod.Post, "/api/workflows/review-flow/executions", """{"input":{}}""")).Status);
        var list = await AppHost.SendAsync(other, HttpMethod.Get, "/api/workflows");
        Assert.Empty(list.Body!.AsArray());
    }

    [Fact]
    public async Task Starting_a_run_is_202_with_a_location_and_bad_input_is_400()
    {
        await _host.CreateWorkflowAsync(Flows.Review);
        var client = _host.Client(_host.Token("ann"));

        using var response = await client.PostJsonAsync("/api/workflows/review-flow/executions", """{"input":{"doc":"x"}}""");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await response.ReadJsonAsync();
        Assert.Equal("Running", (string?)body!["status"]);
        Assert.Equal($"/api/executions/{body["executionId"]}/status", response.Headers.Location?.ToString());

        var badInput = await AppHost.SendAsync(client, HttpMethod.Post, "/api/workflows/review-flow/executions", """{"input":[1,2]}""");
        Assert.Equal(HttpStatusCode.BadRequest, badInput.Status);
        Assert.NotNull(badInput.Body!["errors"]!["input"]);
        Assert.Equal(HttpStatusCode.NotFound, (await AppHost.SendAsync(client, HttpMethod.Post, "/api/workflows/nope/executions", "{}")).Status);
    }

    [Fact]
    public async Task The_status_route_reports_a_failed_run_with_its_error_and_the_node_log_shows_why()
    {
        await _host.CreateWorkflowAsync("""
            {"key":"fails","start":"prep","nodes":[{"id":"prep","type":"set","values":{"n":"input.n"}},{"id":"stop","type":"fail","message":"n was {{prep.n}}"}],
             "edges":[{"from":"prep","to":"stop"}]}
            """);
        var executionId = await _host.StartRunAsync("fails", """{"n":4}""");

        var failed = await _host.WaitForAsync(executionId, s => (string?)s["status"] == "Failed");

        Assert.Equal(("n was 4", "stop"), ((string?)failed["error"], (string?)failed["errorNodeId"]));
        Assert.NotNull(failed["completedAt"]);
        var nodes = await AppHost.SendAsync(_host.Client(_host.Token("ann")), HttpMethod.Get, $"/api/executions/{executionId}/nodes");
        Assert.Equal(["prep:Completed", "stop:Failed"], nodes.Body!.AsArray().Select(n => $"{n!["nodeId"]}:{n["status"]}"));
    }
}
