using System.Net;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>
/// Every JSON body is read in one place (Problems.ReadJsonAsync): text that parses but is not valid UTF-16 (an escaped
/// lone surrogate, in a value or a property name), or an object that gives a property twice, is a 400 naming where it is, on
/// every route, and changes nothing.
/// </summary>
public sealed class JsonBodyTests : IAsyncLifetime
{
    private const string Hook = """
        {"key":"hook","name":"Hook","start":"wait","nodes":[{"id":"wait","type":"wait"}],"edges":[]}
        """;

    private AppHost _host = null!;
    private string _secret = null!;

    public async Task InitializeAsync()
    {
        _host = await AppHost.StartAsync();
        await _host.CreateWorkflowAsync(Flows.Review);
        using var created = await _host.Admin().PostJsonAsync("/api/workflows", Hook);
        _secret = (string)(await created.ReadJsonAsync())!["webhookSecret"]!;
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    public static TheoryData<string, string> LoneSurrogates => new()
    {
        { """{"acknowledged":true,"comment":"\ud800"}""", "$.comment" },
        { """{"acknowledged":true,"comment":"ok \udfff then"}""", "$.comment" },
        { """{"acknowledged":true,"extra":["a",{"deep":"\ud83d"}]}""", "$.extra[1].deep" },
        { """{"acknowledged":true,"\ud800":1}""", "$" },
    };

    [Theory]
    [MemberData(nameof(LoneSurrogates))]
    public async Task A_resume_with_a_lone_surrogate_is_a_400_naming_the_field_and_the_task_stays_answerable(string body, string field)
    {
        var executionId = await _host.StartRunAsync("review-flow", """{"doc":"Q3"}""");
        var resId = await _host.WaitForTaskAsync(executionId);
        var ann = _host.Client(_host.Token("ann", ["ops"]));

        var (status, problem, type) = await AppHost.SendAsync(ann, HttpMethod.Post, $"/api/executions/{resId}/resume", body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("application/problem+json", type);
        Assert.Contains("surrogate", (string?)problem!["errors"]![field]![0], StringComparison.Ordinal);
        await using (var db = _host.Database.OpenContext())
        {
            Assert.Equal(TaskStatuses.Pending, (await db.Tasks.SingleAsync(t => t.ResId == resId)).Status);
            Assert.False(await db.Audit.AnyAsync(a => a.ResId == resId));
        }

        using var accepted = await ann.PostJsonAsync($"/api/executions/{resId}/resume", """{"acknowledged":true,"comment":"\ud83d\ude00 fine"}""");
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
    }

    [Fact]
    public async Task A_property_given_twice_is_a_400_naming_it_not_a_500_and_changes_nothing()
    {
        var executionId = await _host.StartRunAsync("review-flow", """{"doc":"Q3"}""");
        var resId = await _host.WaitForTaskAsync(executionId);
        var ann = _host.Client(_host.Token("ann", ["ops"]));
        var routes = new (HttpClient Client, string Path, string Body, string Field)[]
        {
            (ann, $"/api/executions/{resId}/resume", """{"acknowledged":true,"acknowledged":false}""", "$.acknowledged"),
            (ann, $"/api/executions/{resId}/resume", """{"acknowledged":true,"extra":[{"a":1,"a":2}]}""", "$.extra[0].a"),
            (_host.Admin(), "/api/workflows", """{"key":"twice","start":"w","nodes":[{"id":"w","type":"wait","type":"set"}]}""", "$.nodes[0].type"),
        };

        foreach (var (client, path, body, field) in routes)
        {
            var (status, problem, type) = await AppHost.SendAsync(client, HttpMethod.Post, path, body);
            Assert.True(status == HttpStatusCode.BadRequest, $"{path}: {(int)status} {problem?.ToJsonString()}");
            Assert.Equal("application/problem+json", type);
            Assert.Contains("twice", (string?)problem!["errors"]![field]![0], StringComparison.Ordinal);
        }

        await using (var db = _host.Database.OpenContext())
        {
            Assert.Equal(TaskStatuses.Pending, (await db.Tasks.SingleAsync(t => t.ResId == resId)).Status);
            Assert.False(await db.Workflows.AnyAsync(w => w.Key == "twice"));
        }

        using var accepted = await ann.PostJsonAsync($"/api/executions/{resId}/resume", """{"acknowledged":true}""");
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
    }

    [Fact]
    public async Task A_body_that_is_not_utf8_is_a_400_and_the_task_stays_answerable()
    {
        var executionId = await _host.StartRunAsync("review-flow", """{"doc":"Q3"}""");
        var resId = await _host.WaitForTaskAsync(executionId);
        var ann = _host.Client(_host.Token("ann", ["ops"]));
        using var content = new ByteArrayContent([.. """{"acknowledged":true,"comment":"caf"""u8, 0xE9, .. "\"}"u8]);
        content.Headers.ContentType = new("application/json");

        using var response = await ann.PostAsync($"/api/executions/{resId}/resume", content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("UTF-8", (string?)(await response.ReadJsonAsync())!["errors"]!["$"]![0], StringComparison.Ordinal);
        await using (var db = _host.Database.OpenContext())
        {
            Assert.Equal(TaskStatuses.Pending, (await db.Tasks.SingleAsync(t => t.ResId == resId)).Status);
        }

        using var accepted = await ann.PostJsonAsync($"/api/executions/{resId}/resume", """{"acknowledged":true,"comment":"café"}""");
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("false")]
    [InlineData("\"text\"")]
    [InlineData("[{\"name\":\"x\"}]")]
    public async Task Every_json_route_answers_a_body_that_is_not_an_object_with_a_400_not_a_500(string body)
    {
        var executionId = await _host.StartRunAsync("review-flow", """{"doc":"Q3"}""");
        var resId = await _host.WaitForTaskAsync(executionId);
        var hookRun = await _host.StartRunAsync("hook");
        await _host.WaitForTaskAsync(hookRun);
        var admin = _host.Admin();
        var routes = new (HttpClient Client, HttpMethod Method, string Path)[]
        {
            (admin, HttpMethod.Post, $"/api/executions/{resId}/resume"),
            (admin, HttpMethod.Post, "/api/workflows"),
            (admin, HttpMethod.Post, "/api/workflows/review-flow/executions"),
            (admin, HttpMethod.Post, "/v1/dispatch/resume"),
            (admin, HttpMethod.Post, $"/api/tasks/{resId}/links"),
            (admin, HttpMethod.Put, "/api/users/zed"),
            (admin, HttpMethod.Post, "/api/api-keys"),
            (admin, HttpMethod.Put, "/api/message-templates/email.subject"),
            (admin, HttpMethod.Post, "/api/workflows/hook/webhook-secret/rotate"),
            (_host.Anonymous, HttpMethod.Post, $"/v1/runs/{hookRun}/nodes/wait/resume?secret={Uri.EscapeDataString(_secret)}"),
        };

        foreach (var (client, method, path) in routes)
        {
            var (status, problem, type) = await AppHost.SendAsync(client, method, path, body);
            Assert.True(status == HttpStatusCode.BadRequest, $"{method} {path.Split('?')[0]}: {(int)status} {problem?.ToJsonString()}");
            Assert.Equal("application/problem+json", type);
            Assert.NotEmpty(problem!["errors"]!.AsObject());
        }

        await using var db = _host.Database.OpenContext();
        Assert.Equal(TaskStatuses.Pending, (await db.Tasks.SingleAsync(t => t.ResId == resId)).Status);
        Assert.Equal(TaskStatuses.Pending, (await db.Tasks.SingleAsync(t => t.ExecutionId == hookRun)).Status);
    }

    [Fact]
    public async Task Every_json_route_answers_a_lone_surrogate_with_a_400_not_a_500()
    {
        var executionId = await _host.StartRunAsync("review-flow", """{"doc":"Q3"}""");
        var resId = await _host.WaitForTaskAsync(executionId);
        var hookRun = await _host.StartRunAsync("hook");
        await _host.WaitForTaskAsync(hookRun);
        var admin = _host.Admin();
        var member = _host.Client(_host.Token("ann", ["ops"]));
        var routes = new (HttpClient Client, HttpMethod Method, string Path, string Body, string Field)[]
        {
            (admin, HttpMethod.Post, "/api/workflows", """{"key":"k","name":"\ud800","start":"a","nodes":[],"edges":[]}""", "$.name"),
            (member, HttpMethod.Post, "/api/workflows/review-flow/executions", """{"input":{"doc":"\udc00"}}""", "$.input.doc"),
            (member, HttpMethod.Post, "/v1/dispatch/resume", """{"executionId":"x","toolOutputs":{"t":"\ud800"}}""", "$.toolOutputs.t"),
            (admin, HttpMethod.Post, $"/api/tasks/{resId}/links", """{"userId":"\ud800"}""", "$.userId"),
            (admin, HttpMethod.Put, "/api/users/zed", """{"name":"Zed \ud800"}""", "$.name"),
            (admin, HttpMethod.Post, "/api/api-keys", """{"name":"\ud800"}""", "$.name"),
            (admin, HttpMethod.Put, "/api/message-templates/email.subject", """{"source":"\ud800"}""", "$.source"),
            (_host.Anonymous, HttpMethod.Post, $"/v1/runs/{hookRun}/nodes/wait/resume?secret={Uri.EscapeDataString(_secret)}", """{"data":{"v":"\ud800"}}""", "$.data.v"),
        };

        foreach (var (client, method, path, body, field) in routes)
        {
            var (status, problem, type) = await AppHost.SendAsync(client, method, path, body);
            Assert.True(status == HttpStatusCode.BadRequest, $"{method} {path.Split('?')[0]}: {(int)status} {problem?.ToJsonString()}");
            Assert.Equal("application/problem+json", type);
            Assert.True(problem!["errors"]?[field] is not null, $"{method} {path.Split('?')[0]} names {problem.ToJsonString()}, want {field}");
        }

        // Nothing was made or changed.
        await using var db = _host.Database.OpenContext();
        Assert.False(await db.Workflows.AnyAsync(w => w.Key == "k"));
        Assert.False(await db.Users.AnyAsync(u => u.UserId == "zed"));
        Assert.Equal(1, await db.Executions.CountAsync(e => e.WorkflowKey == "review-flow"));
        Assert.Equal(TaskStatuses.Pending, (await db.Tasks.SingleAsync(t => t.ExecutionId == hookRun)).Status);
    }
}
