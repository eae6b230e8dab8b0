using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ApprovalStudio.Web.Tests.Webhooks;

/// <summary>POST /v1/runs/{id}/nodes/{nodeId}/resume?secret=… (CONTRACT §4.2, seed runs-nodes-resume).</summary>
public sealed class WebhookResumeTests : IAsyncLifetime
{
    private const string Nested = """
        {"key":"grid","start":"rows",
         "nodes":[{"id":"rows","type":"forEach","items":"input.rows","body":"cells"},
                  {"id":"cells","type":"forEach","items":"item","body":"hook"},
                  {"id":"hook","type":"wait","title":"cell {{loops.rows.index}}/{{index}}"},
                  {"id":"cell","type":"set","values":{"v":"item + '=' + hook.value"}},
                  {"id":"after","type":"wait"}],
         "edges":[{"from":"hook","to":"cell"},{"from":"rows","to":"after"}]}
        """;

    private const string Single = """
        {"key":"single","start":"each","nodes":[{"id":"each","type":"forEach","items":"[1,2]","body":"hook"},{"id":"hook","type":"wait"},
          {"id":"ask","type":"review","assignees":{"users":["bob"]}}],"edges":[{"from":"each","to":"ask"}]}
        """;

    private readonly LogCapture _logs = new();
    private AppHost _host = null!;
    private string _gridSecret = null!;
    private string _singleSecret = null!;

    public async Task InitializeAsync()
    {
        _host = await AppHost.StartAsync(
            settings: new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Trace", ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace" },
            services: _logs.Install);
        _gridSecret = await CreateAsync(Nested);
        _singleSecret = await CreateAsync(Single);
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private Task<string> CreateAsync(string definition) => CreateAsync(_host, definition);

    private static async Task<string> CreateAsync(AppHost host, string definition)
    {
        using var response = await host.Admin().PostJsonAsync("/api/workflows", definition);
        return (string)(await response.ReadJsonAsync())!["webhookSecret"]!;
    }

    private Task<(HttpStatusCode Status, JsonNode? Body, string? ContentType)> ResumeAsync(string run, string node, string? secret, string? body) =>
        ResumeAsync(_host, run, node, secret, body);

    private static Task<(HttpStatusCode Status, JsonNode? Body, string? ContentType)> ResumeAsync(AppHost host, string run, string node, string? secret, string? body) =>
        AppHost.SendAsync(host.Anonymous, HttpMethod.Post,
            $"/v1/runs/{run}/nodes/{node}/resume" + (secret is null ? string.Empty : $"?secret={Uri.EscapeDataString(secret)}"), body);

    private static string Stack(int row, int cell) =>
        $$"""[{"parentNodeId":"rows","index":{{row}},"total":3},{"parentNodeId":"cells","index":{{cell}},"total":2}]""";

    [Fact]
    public async Task Waits_in_nested_loops_are_resumed_by_stack_out_of_order_each_once_and_the_results_keep_their_order()
    {
        var run = await _host.StartRunAsync("grid", """{"rows":[["a","b"],["c","d"],["e","f"]]}""");
        var status = await _host.WaitForAsync(run, s => s["waiting"]!.AsArray().Count == 6);
        Assert.Contains(status["waiting"]!.AsArray(), w => (string?)w!["title"] == "cell 2/1" && w["stack"]!.ToJsonString().Contains("\"total\":3"));

        foreach (var (row, cell) in new[] { (2, 1), (0, 0), (1, 1), (2, 0), (0, 1), (1, 0) })
        {
            var (code, body, _) = await ResumeAsync(run, "hook", _gridSecret, $$"""{"data":{"value":"{{row}}{{cell}}"},"stack":{{Stack(row, cell)}}}""");
            Assert.Equal(HttpStatusCode.OK, code);
            Assert.Equal("resumed", (string?)body!["action"]);
        }

        await _host.WaitForTaskAsync(run, "after");
        var again = await ResumeAsync(run, "hook", _gridSecret, $$"""{"data":{"value":"x"},"stack":{{Stack(1, 1)}}}""");
        Assert.Equal("skipped", (string?)again.Body!["action"]);
        Assert.Contains("already resumed", (string?)again.Body["reason"]);

        Assert.Equal("resumed", (string?)(await ResumeAsync(run, "after", _gridSecret, "{}")).Body!["action"]);
        var done = await _host.WaitForAsync(run, s => (string?)s["status"] == "Completed");
        var nodes = await AppHost.SendAsync(_host.Admin(), HttpMethod.Get, $"/api/executions/{run}/nodes");
        var rows = (JsonArray)nodes.Body!.AsArray().Single(n => (string?)n!["nodeId"] == "rows")!["output"]!;
        Assert.Equal("""[[{"v":"a=00"},{"v":"b=01"}],[{"v":"c=10"},{"v":"d=11"}],[{"v":"e=20"},{"v":"f=21"}]]""", rows.ToJsonString());
        Assert.Empty(done["waiting"]!.AsArray());
        Assert.Equal("skipped", (string?)(await ResumeAsync(run, "after", _gridSecret, "{}")).Body!["action"]);
        Assert.Contains("already resumed", (string?)(await ResumeAsync(run, "hook", _gridSecret, $$"""{"stack":{{Stack(0, 0)}}}""")).Body!["reason"]);
    }

    [Fact]
    public async Task Skip_reasons_say_not_reached_already_resumed_and_run_over()
    {
        var run = await _host.StartRunAsync("grid", """{"rows":[["a"]]}""");
        await _host.WaitForTaskAsync(run, "hook");

        var unreached = await ResumeAsync(run, "after", _gridSecret, "{}");
        Assert.Equal(("skipped", true), ((string?)unreached.Body!["action"], ((string?)unreached.Body["reason"])!.Contains("not been reached")));

        Assert.Equal("resumed", (string?)(await ResumeAsync(run, "hook", _gridSecret, """{"stack":[{"parentNodeId":"rows","index":0},{"parentNodeId":"cells","index":0}]}""")).Body!["action"]);
        var repeated = await ResumeAsync(run, "hook", _gridSecret, """{"stack":[{"parentNodeId":"rows","index":0},{"parentNodeId":"cells","index":0}]}""");
        Assert.Contains("already resumed", (string?)repeated.Body!["reason"]);

        await _host.WaitForTaskAsync(run, "after");
        Assert.Equal("resumed", (string?)(await ResumeAsync(run, "after", _gridSecret, null)).Body!["action"]);
        await _host.WaitForAsync(run, s => (string?)s["status"] == "Completed");
        var over = await ResumeAsync(run, "after", _gridSecret, "{}");
        Assert.Contains("already resumed", (string?)over.Body!["reason"]);

        var fresh = await _host.StartRunAsync("grid", """{"rows":[]}""");
        await _host.WaitForTaskAsync(fresh, "after");
        await _host.WaitForAsync(fresh, s => (string?)s["status"] == "Suspended");
        var notInLoop = await ResumeAsync(fresh, "hook", _gridSecret, """{"stack":[{"parentNodeId":"rows","index":0},{"parentNodeId":"cells","index":0}]}""");
        Assert.Contains("not been reached", (string?)notInLoop.Body!["reason"]);
    }

    [Fact]
    public async Task A_finished_run_skips_with_the_reason_that_it_is_over()
    {
        await _host.CreateWorkflowAsync("""{"key":"quick","start":"w","nodes":[{"id":"w","type":"wait"},{"id":"x","type":"wait"}],"edges":[{"from":"w","to":"x","when":"false"}]}""");
        var secret = (string)(await (await _host.Admin().PostAsync("/api/workflows/quick/webhook-secret/rotate", AppHost.Json("{}"))).ReadJsonAsync())!["webhookSecret"]!;
        var run = await _host.StartRunAsync("quick");
        await _host.WaitForTaskAsync(run, "w");
        Assert.Equal("resumed", (string?)(await ResumeAsync(run, "w", secret, "{}")).Body!["action"]);
        await _host.WaitForAsync(run, s => (string?)s["status"] == "Completed");

        var over = await ResumeAsync(run, "x", secret, "{}");

        Assert.Equal("skipped", (string?)over.Body!["action"]);
        Assert.Contains("run is over", (string?)over.Body["reason"]);
    }

    [Fact]
    public async Task The_legacy_for_each_context_is_read_as_a_one_level_stack()
    {
        var run = await _host.StartRunAsync("single");
        await _host.WaitForAsync(run, s => s["waiting"]!.AsArray().Count == 2);

        var resumed = await ResumeAsync(run, "hook", _singleSecret, """{"forEachContext":{"parentNodeId":"each","index":1},"data":{}}""");

        Assert.Equal("resumed", (string?)resumed.Body!["action"]);
        var status = await _host.WaitForAsync(run, s => s["waiting"]!.AsArray().Count == 1);
        Assert.Equal(0, (int?)status["waiting"]![0]!["stack"]![0]!["index"]);
    }

    [Fact]
    public async Task A_missing_or_wrong_secret_is_401_and_changes_nothing()
    {
        var run = await _host.StartRunAsync("single");
        await _host.WaitForAsync(run, s => s["waiting"]!.AsArray().Count == 2);

        Assert.Equal(HttpStatusCode.Unauthorized, (await ResumeAsync(run, "hook", null, """{"stack":[{"parentNodeId":"each","index":0}]}""")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ResumeAsync(run, "hook", _gridSecret, """{"stack":[{"parentNodeId":"each","index":0}]}""")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ResumeAsync(run, "hook", "whsec_guess", """{"stack":[{"parentNodeId":"each","index":0}]}""")).Status);
        Assert.Equal(2, (await _host.StatusAsync(run))["waiting"]!.AsArray().Count);
    }

    [Theory]
    [InlineData("hook", """{"stack":[{"parentNodeId":"cells","index":0}]}""", HttpStatusCode.BadRequest, "stack")]
    [InlineData("hook", """{"stack":"rows"}""", HttpStatusCode.BadRequest, "stack")]
    [InlineData("hook", """{"stack":[{"parentNodeId":"rows","index":-1},{"parentNodeId":"cells","index":0}]}""", HttpStatusCode.BadRequest, "stack[0]")]
    [InlineData("hook", """{"data": """, HttpStatusCode.BadRequest, "$")]
    [InlineData("after", """{"stack":[{"parentNodeId":"rows","index":0}]}""", HttpStatusCode.BadRequest, "stack")]
    [InlineData("nope", "{}", HttpStatusCode.NotFound, null)]
    public async Task Bad_requests_are_answered_with_the_field_or_404(string node, string body, HttpStatusCode code, string? field)
    {
        var run = await _host.StartRunAsync("grid", """{"rows":[["a"]]}""");
        await _host.WaitForTaskAsync(run, "hook");

        var (status, problem, _) = await ResumeAsync(run, node, _gridSecret, body);

        Assert.Equal(code, status);
        if (field is not null)
        {
            Assert.NotNull(problem!["errors"]![field]);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await ResumeAsync("no-such-run", "hook", _gridSecret, "{}")).Status);
    }

    [Fact]
    public async Task A_rotated_secret_keeps_the_old_one_valid_for_the_grace_period_then_refuses_it()
    {
        // A host of its own on a clock that moves only when told. It starts at the real now and moves by seconds, so the bearer
        // tokens (issued, and checked by the JWT handler, on the real clock) stay valid.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await AppHost.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        var previous = await CreateAsync(host, Single);
        var rotated = await AppHost.SendAsync(host.Admin(), HttpMethod.Post, "/api/workflows/single/webhook-secret/rotate", """{"gracePeriod":"PT2S"}""");
        Assert.Equal(HttpStatusCode.OK, rotated.Status);
        var fresh = (string)rotated.Body!["webhookSecret"]!;
        Assert.NotEqual(previous, fresh);
        var run = await host.StartRunAsync("single");
        await host.WaitForAsync(run, s => s["waiting"]!.AsArray().Count == 2);

        Assert.Equal("resumed", (string?)(await ResumeAsync(host, run, "hook", previous, """{"stack":[{"parentNodeId":"each","index":0}]}""")).Body!["action"]);
        clock.Advance(TimeSpan.FromSeconds(2.5));
        Assert.Equal(HttpStatusCode.Unauthorized, (await ResumeAsync(host, run, "hook", previous, """{"stack":[{"parentNodeId":"each","index":1}]}""")).Status);
        Assert.Equal("resumed", (string?)(await ResumeAsync(host, run, "hook", fresh, """{"stack":[{"parentNodeId":"each","index":1}]}""")).Body!["action"]);
        Assert.Equal(HttpStatusCode.BadRequest, (await AppHost.SendAsync(host.Admin(), HttpMethod.Post, "/api/workflows/single/webhook-secret/rotate", """{"gracePeriod":"soon"}""")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await AppHost.SendAsync(host.Client(host.Token("ann")), HttpMethod.Post, "/api/workflows/single/webhook-secret/rotate", "{}")).Status);
    }

    [Fact]
    public async Task Webhook_secrets_never_reach_the_logs_even_at_trace_level()
    {
        var run = await _host.StartRunAsync("single");
        await _host.WaitForAsync(run, s => s["waiting"]!.AsArray().Count == 2);
        await ResumeAsync(run, "hook", _singleSecret, """{"stack":[{"parentNodeId":"each","index":0}]}""");
        await ResumeAsync(run, "hook", "whsec_wrong-guess-123", "{}");

        Assert.NotEmpty(_logs.Messages);
        Assert.DoesNotContain(_logs.Messages, m => m.Contains(_singleSecret, StringComparison.Ordinal) || m.Contains("wrong-guess-123", StringComparison.Ordinal));
    }
}
