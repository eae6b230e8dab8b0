using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace ApprovalStudio.Web.Tests.Dispatch;

/// <summary>POST /v1/dispatch/resume (CONTRACT §4.4, seed dispatch-resume): tool outputs, messages, JSON and SSE.</summary>
public sealed class DispatchResumeTests : IAsyncLifetime
{
    private const string Agent = """
        {"key":"agent","start":"tools",
         "nodes":[{"id":"tools","type":"toolCall","tools":[{"name":"get_user","arguments":{"email":"{{input.a}}"}},{"name":"get_user","arguments":{"email":"{{input.b}}"}},{"name":"lookup","arguments":{"q":"plan"}}]},
                  {"id":"summary","type":"set","values":{"users":"Object.keys(tools).length","said":"transcript.map(m => m.content).join('|')"}},
                  {"id":"confirm","type":"toolCall","tools":[{"name":"send","arguments":{"text":"{{summary.said}}"}}]},
                  {"id":"done","type":"set","values":{"sent":"Object.values(confirm)[0].ok"}}],
         "edges":[{"from":"tools","to":"summary"},{"from":"summary","to":"confirm"},{"from":"confirm","to":"done"}]}
        """;

    private AppHost _host = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _host = await AppHost.StartAsync();
        await _host.CreateWorkflowAsync(Agent);
        await _host.CreateWorkflowAsync(Api.Flows.Review);
        // The agent runtime calls with a tenant API key, bare in Authorization, as the seed shows.
        using var created = await _host.Admin().PostAsync("/api/api-keys", AppHost.Json("""{"name":"agent runtime"}"""));
        var key = (string)(await created.ReadJsonAsync())!["key"]!;
        _client = new HttpClient { BaseAddress = _host.Address };
        _client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", key);
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private async Task<(string Run, JsonArray Calls)> PausedAsync()
    {
        var run = await _host.StartRunAsync("agent", """{"a":"jane@x","b":"joe@x"}""");
        var status = await _host.WaitForAsync(run, s => s["waiting"]!.AsArray().Count == 1);
        return (run, status["waiting"]![0]!["toolCalls"]!.AsArray());
    }

    private Task<(HttpStatusCode Status, JsonNode? Body, string? ContentType)> DispatchAsync(string json) =>
        AppHost.SendAsync(_client, HttpMethod.Post, "/v1/dispatch/resume", json);

    [Theory]
    [InlineData("""{"toolOutputs":{}}""")]
    [InlineData("""{"toolOutputs":{"lookup":"ok"}}""")]
    [InlineData("""{"toolOutputs":{"get_user":"ambiguous"}}""")]
    public async Task The_resume_route_holds_tool_calls_to_the_same_rule_as_dispatch_and_consumes_nothing(string body)
    {
        // Any tenant member may answer a tool-call task on the generic route; what the answer must contain is the
        // pipeline's rule, whatever the channel: every pending call answered, each once.
        var (run, calls) = await PausedAsync();
        var resId = (string)(await _host.StatusAsync(run))["waiting"]![0]!["resId"]!;
        var api = _host.Client(_host.Token("agent-operator", roles: ["admin"]));

        var (status, problem, _) = await AppHost.SendAsync(api, HttpMethod.Post, $"/api/executions/{resId}/resume", body);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.NotEmpty(problem!["errors"]!.AsObject());
        Assert.Equal("Suspended", (string?)(await _host.StatusAsync(run))["status"]);

        var outputs = new JsonObject();
        foreach (var call in calls)
        {
            outputs[(string)call!["toolCallId"]!] = new JsonObject { ["ok"] = true };
        }

        using var accepted = await api.PostJsonAsync($"/api/executions/{resId}/resume", new JsonObject { ["toolOutputs"] = outputs }.ToJsonString());
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
    }

    [Fact]
    public async Task The_status_route_lists_the_pending_tool_calls_with_evaluated_arguments()
    {
        var (_, calls) = await PausedAsync();

        Assert.Equal(["get_user:jane@x", "get_user:joe@x", "lookup:plan"],
            calls.Select(c => $"{c!["toolName"]}:{c["arguments"]!.AsObject().First().Value}"));
        Assert.Equal(3, calls.Select(c => (string)c!["toolCallId"]!).Distinct().Count());
    }

    [Fact]
    public async Task Parallel_calls_of_one_tool_answered_by_name_are_400_and_by_id_resume_the_run_with_messages_in_its_transcript()
    {
        var (run, calls) = await PausedAsync();
        var ids = calls.Select(c => (string)c!["toolCallId"]!).ToArray();

        var ambiguous = await DispatchAsync("""{"executionId":"@0@","toolOutputs":{"get_user":{"name":"Jane"},"lookup":{"hits":1}}}""".Replace("@0@", run, StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.BadRequest, ambiguous.Status);
        Assert.Contains("key their outputs by toolCallId", (string?)ambiguous.Body!["errors"]!["toolOutputs.get_user"]![0]);
        Assert.Single((await _host.StatusAsync(run))["waiting"]!.AsArray());

        var (status, body, _) = await DispatchAsync("""
            {"executionId":"@0@","messages":[{"role":"user","content":"hello"},{"role":"user","content":"go on"}],
             "toolOutputs":{"@1@":{"name":"Jane"},"@2@":{"name":"Joe"},"lookup":{"hits":1}}}
            """.Replace("@0@", run, StringComparison.Ordinal).Replace("@1@", ids[0], StringComparison.Ordinal).Replace("@2@", ids[1], StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Suspended", (string?)body!["status"]);
        Assert.Equal("send", (string?)body["waiting"]![0]!["toolCalls"]![0]!["toolName"]);
        Assert.Equal("hello|go on", (string?)body["waiting"]![0]!["toolCalls"]![0]!["arguments"]!["text"]);
        var nodes = await AppHost.SendAsync(_client, HttpMethod.Get, $"/api/executions/{run}/nodes");
        var tools = nodes.Body!.AsArray().Single(n => (string?)n!["nodeId"] == "tools")!["output"]!.AsObject();
        Assert.Equal(["Jane", "Joe"], ids.Take(2).Select(id => (string?)tools[id]!["name"]));
        Assert.Equal(1, (int?)tools[ids[2]]!["hits"]);
    }

    [Fact]
    public async Task Every_pending_call_must_be_answered_and_a_partial_answer_changes_nothing()
    {
        var (run, calls) = await PausedAsync();
        var first = (string)calls[0]!["toolCallId"]!;

        var (status, body, _) = await DispatchAsync("""{"executionId":"@0@","toolOutputs":{"@1@":{}}}""".Replace("@0@", run, StringComparison.Ordinal).Replace("@1@", first, StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var missing = body!["errors"]!.AsObject().Select(e => e.Key).Order().ToArray();
        Assert.Equal([.. calls.Skip(1).Select(c => $"toolOutputs.{c!["toolCallId"]}").Order()], missing);
        Assert.Single((await _host.StatusAsync(run))["waiting"]!.AsArray());
        Assert.Equal(HttpStatusCode.BadRequest, (await DispatchAsync("""{"executionId":"@0@","toolOutputs":{"nonsense":1}}""".Replace("@0@", run, StringComparison.Ordinal))).Status);
    }

    [Fact]
    public async Task A_streamed_resume_sends_the_runs_events_in_order_and_closes_at_the_next_await_then_at_completion()
    {
        var (run, calls) = await PausedAsync();
        var outputs = string.Join(",", calls.Select(c => $"\"{c!["toolCallId"]}\":{{}}"));

        var first = await ReadStreamAsync("""{"executionId":"@0@","streamResponse":true,"toolOutputs":{@1@}}""".Replace("@0@", run, StringComparison.Ordinal).Replace("@1@", outputs, StringComparison.Ordinal));
        Assert.Equal(["resumed", "nodeCompleted", "nodeStarted", "nodeCompleted", "nodeStarted", "flow_await"], first.Select(e => e.Event));
        Assert.Equal(first.Select(e => e.Id).Order(), first.Select(e => e.Id));
        var await_ = JsonNode.Parse(first[^1].Data)!;
        Assert.Equal(run, (string?)await_["executionId"]);
        var sendId = (string)await_["toolCalls"]![0]!["toolCallId"]!;

        var second = await ReadStreamAsync("""{"executionId":"@0@","streamResponse":true,"toolOutputs":{"send":{"ok":true}}}""".Replace("@0@", run, StringComparison.Ordinal));
        Assert.Equal("flow_complete", second[^1].Event);
        Assert.True((bool?)JsonNode.Parse(second[^1].Data)!["output"]!["sent"]);
        Assert.DoesNotContain(second, e => e.Event == "flow_await");
        Assert.NotNull(sendId);
    }

    [Fact]
    public async Task A_run_not_paused_for_tools_is_409_an_unknown_one_404_and_no_token_401()
    {
        var review = await _host.StartRunAsync("review-flow");
        await _host.WaitForTaskAsync(review);

        Assert.Equal(HttpStatusCode.Conflict, (await DispatchAsync("""{"executionId":"@0@","toolOutputs":{}}""".Replace("@0@", review, StringComparison.Ordinal))).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await DispatchAsync("""{"executionId":"nope"}""")).Status);
        Assert.NotNull((await DispatchAsync("""{"toolOutputs":{}}""")).Body!["errors"]!["executionId"]);
        Assert.Equal(HttpStatusCode.Unauthorized, (await AppHost.SendAsync(_host.Anonymous, HttpMethod.Post, "/v1/dispatch/resume", """{"executionId":"@0@"}""".Replace("@0@", review, StringComparison.Ordinal))).Status);
    }

    private async Task<List<(long Id, string Event, string Data)>> ReadStreamAsync(string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/dispatch/resume") { Content = AppHost.Json(json) };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<(long, string, string)>();
        long id = 0;
        string? name = null;
        var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = long.Parse(line[4..], System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                events.Add((id, name!, line[6..]));
            }
        }

        return events;
    }
}
