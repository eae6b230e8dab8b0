using System.Text.Json.Nodes;
using ApprovalStudio.Workflows.Definitions;
using ApprovalStudio.Workflows.Execution;
using ApprovalStudio.Workflows.Expressions;
using Microsoft.Extensions.Time.Testing;

namespace ApprovalStudio.Workflows.Tests.Execution;

public sealed class WorkflowEngineTests
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
    private readonly FakeHttp _http = new();
    private readonly WorkflowEngine _engine;

    public WorkflowEngineTests() => _engine = new WorkflowEngine(new ExpressionEvaluator(), _http, _clock);

    private static WorkflowDefinition Define(string json) => DefinitionParser.ParseOrThrow(json);

    // Every step goes through JSON, as it does between the worker's transactions.
    private static RunState Stored(AdvanceResult result) => RunState.Deserialize(result.State.Serialize());

    private const string Expense = """
        {"key":"expense","start":"manager",
         "nodes":[{"id":"manager","type":"approval","title":"Approve {{input.amount}} for {{input.who}}","assignees":{"groups":["managers"]},"expiresAfter":"PT1H"},
                  {"id":"ok","type":"set","values":{"result":"'paid ' + input.amount","by":"manager.actor"}},
                  {"id":"no","type":"set","values":{"result":"'refused'"}}],
         "edges":[{"from":"manager","to":"ok","when":"manager.decision == 'Approved'"},
                  {"from":"manager","to":"no","when":"manager.decision == 'Rejected'"}]}
        """;

    [Fact]
    public async Task A_run_suspends_at_an_approval_and_continues_on_the_branch_its_decision_takes()
    {
        var definition = Define(Expense);
        var started = await _engine.StartAsync(definition, JsonNode.Parse("""{"amount":120,"who":"Jane"}"""), default);

        Assert.Equal(RunStatus.Suspended, started.Status);
        var wait = Assert.Single(started.NewWaits);
        Assert.Equal("manager", wait.Node.Id);
        Assert.Equal("Approve 120 for Jane", wait.Title);
        Assert.Equal(_clock.GetUtcNow().AddHours(1), wait.ExpiresAt);
        Assert.Empty(wait.Stack);
        Assert.Equal(NodeRunStatus.Waiting, Assert.Single(started.NodeRuns).Status);

        var resumed = await _engine.ResumeAsync(definition, Stored(started), "manager", [],
            JsonNode.Parse("""{"decision":"Approved","actor":"ann"}"""), default);

        Assert.Equal(RunStatus.Completed, resumed.Status);
        Assert.Equal("paid 120", resumed.Output!["result"]!.GetValue<string>());
        Assert.Equal("ann", resumed.Output!["by"]!.GetValue<string>());
        Assert.Equal(["manager", "ok"], resumed.NodeRuns.Select(r => r.NodeId));
    }

    [Fact]
    public async Task A_rejection_takes_the_other_edge()
    {
        var definition = Define(Expense);
        var started = await _engine.StartAsync(definition, JsonNode.Parse("""{"amount":5}"""), default);
        var resumed = await _engine.ResumeAsync(definition, Stored(started), "manager", [], JsonNode.Parse("""{"decision":"Rejected"}"""), default);

        Assert.Equal("refused", resumed.Output!["result"]!.GetValue<string>());
        Assert.DoesNotContain(resumed.NodeRuns, r => r.NodeId == "ok");
    }

    [Fact]
    public async Task Nested_loops_wait_per_iteration_and_collect_results_in_order_whatever_the_resume_order()
    {
        var definition = Define("""
            {"key":"nested","start":"outer",
             "nodes":[{"id":"outer","type":"forEach","items":"input.rows","body":"inner"},
                      {"id":"inner","type":"forEach","items":"item.cells","body":"ask"},
                      {"id":"ask","type":"wait","title":"{{loops.outer.item.name}}/{{item}}"},
                      {"id":"echo","type":"set","values":{"cell":"loops.outer.index + ':' + index + '=' + ask.value"}},
                      {"id":"done","type":"set","values":{"all":"outer"}}],
             "edges":[{"from":"ask","to":"echo"},{"from":"outer","to":"done"}]}
            """);
        var input = JsonNode.Parse("""{"rows":[{"name":"r0","cells":["a","b"]},{"name":"r1","cells":["c","d"]},{"name":"r2","cells":["e","f"]}]}""");

        var result = await _engine.StartAsync(definition, input, default);
        Assert.Equal(6, result.NewWaits.Count);
        Assert.Equal("r1/d", result.NewWaits.Single(w => w.Stack[0].Index == 1 && w.Stack[1].Index == 1).Title);
        Assert.All(result.NewWaits, w => Assert.Equal(["outer", "inner"], w.Stack.Select(f => f.ParentNodeId)));
        Assert.All(result.NewWaits, w => Assert.Equal((3, 2), (w.Stack[0].Total, w.Stack[1].Total)));

        var order = new[] { (2, 1), (0, 0), (1, 1), (2, 0), (0, 1), (1, 0) };
        var state = Stored(result);
        foreach (var (outer, inner) in order)
        {
            result = await _engine.ResumeAsync(definition, state, "ask", [new("outer", outer, 3), new("inner", inner, 2)],
                JsonNode.Parse($$"""{"value":"v{{outer}}{{inner}}"}"""), default);
            state = Stored(result);
            Assert.Empty(result.NewWaits);
        }

        Assert.Equal(RunStatus.Completed, result.Status);
        Assert.Equal(
            """[[{"cell":"0:0=v00"},{"cell":"0:1=v01"}],[{"cell":"1:0=v10"},{"cell":"1:1=v11"}],[{"cell":"2:0=v20"},{"cell":"2:1=v21"}]]""",
            result.Output!["all"]!.ToJsonString());
    }

    [Fact]
    public async Task Resuming_a_node_twice_or_one_that_is_not_waiting_is_refused()
    {
        var definition = Define(Expense);
        var started = await _engine.StartAsync(definition, JsonNode.Parse("""{"amount":1}"""), default);
        var state = Stored(started);
        await _engine.ResumeAsync(definition, state, "manager", [], JsonNode.Parse("""{"decision":"Approved"}"""), default);

        await Assert.ThrowsAsync<NotWaitingException>(() =>
            _engine.ResumeAsync(definition, state, "manager", [], JsonNode.Parse("""{"decision":"Approved"}"""), default));
        await Assert.ThrowsAsync<NotWaitingException>(() =>
            _engine.ResumeAsync(definition, Stored(started), "manager", [new("loop", 0, 1)], null, default));
    }

    [Fact]
    public async Task An_http_node_that_answers_an_error_fails_the_run_naming_the_node()
    {
        _http.Answer = _ => new HttpNodeResult(503, "Service Unavailable", JsonValue.Create("down"));
        var definition = Define("""
            {"key":"call","start":"call","nodes":[{"id":"call","type":"http","method":"POST","url":"http://svc.test/items/{{input.id}}","body":{"id":"{{input.id}}","note":"n-{{input.id}}"}}]}
            """);

        var result = await _engine.StartAsync(definition, JsonNode.Parse("""{"id":7}"""), default);

        Assert.Equal(RunStatus.Failed, result.Status);
        Assert.Equal("call", result.Error!.NodeId);
        Assert.Contains("503", result.Error.Message);
        var request = Assert.Single(_http.Requests);
        Assert.Equal("http://svc.test/items/7", request.Url.ToString());
        Assert.Equal("""{"id":7,"note":"n-7"}""", request.Body!.ToJsonString());
        Assert.Equal(NodeRunStatus.Failed, Assert.Single(result.NodeRuns).Status);
    }

    [Fact]
    public async Task An_http_node_sends_an_idempotency_key_that_a_redone_step_repeats_and_every_other_run_of_the_node_changes()
    {
        // After an approval, a loop calls the same node once per item, then a GET and a call with the workflow's own key.
        var definition = Define("""
            {"key":"pay","start":"ask","nodes":[
              {"id":"ask","type":"approval","assignees":{"users":["u"]}},
              {"id":"each","type":"forEach","items":"input.items","body":"pay"},
              {"id":"pay","type":"http","method":"POST","url":"http://svc.test/pay/{{item}}"},
              {"id":"look","type":"http","method":"GET","url":"http://svc.test/status"},
              {"id":"own","type":"http","method":"PUT","url":"http://svc.test/own","headers":{"idempotency-key":"mine"}}],
             "edges":[{"from":"ask","to":"each"},{"from":"each","to":"look"},{"from":"look","to":"own"}]}
            """);
        var started = await _engine.StartAsync(definition, JsonNode.Parse("""{"items":["a","b"]}"""), default, runId: "run-1");
        var stored = started.State.Serialize();
        Assert.DoesNotContain("run-1", stored); // the host's id is not part of the state

        async Task<List<HttpNodeRequest>> StepAsync(string runId)
        {
            _http.Requests.Clear();
            var state = RunState.Deserialize(stored);
            state.RunId = runId;
            var done = await _engine.ResumeAsync(definition, state, "ask", [], JsonNode.Parse("""{"decision":"Approved"}"""), default);
            Assert.Equal(RunStatus.Completed, done.Status);
            return [.. _http.Requests];
        }

        static string? Key(HttpNodeRequest r) => r.Headers.FirstOrDefault(h => h.Key.Equals("Idempotency-Key", StringComparison.OrdinalIgnoreCase)).Value;

        var first = await StepAsync("run-1");
        var again = await StepAsync("run-1");       // the same step, done again after a crash
        var other = await StepAsync("run-2");       // another run at the same place

        Assert.Equal(first.Select(Key), again.Select(Key));
        var (payA, payB) = (Key(first[0]), Key(first[1]));
        Assert.Matches("^[0-9a-f]{32}$", payA);
        Assert.NotEqual(payA, payB);                // two iterations of one node
        Assert.DoesNotContain(Key(other[0]), first.Select(Key));
        Assert.Null(Key(first[2]));                 // GET reads: no key
        Assert.Equal("mine", Key(first[3]));        // a key the workflow sets itself wins
        Assert.Single(first[3].Headers, h => h.Key.Equals("Idempotency-Key", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task An_http_node_that_succeeds_outputs_status_and_body()
    {
        _http.Answer = _ => new HttpNodeResult(200, "OK", JsonNode.Parse("""{"ok":true}"""));
        var definition = Define("""{"key":"call","start":"call","nodes":[{"id":"call","type":"http","url":"http://svc.test/"}]}""");

        var result = await _engine.StartAsync(definition, null, default);

        Assert.Equal(RunStatus.Completed, result.Status);
        Assert.Equal("""{"status":200,"body":{"ok":true}}""", result.Output!.ToJsonString());
    }

    [Fact]
    public async Task A_fail_node_fails_the_run_with_its_message()
    {
        var definition = Define("""{"key":"f","start":"x","nodes":[{"id":"x","type":"fail","message":"Amount {{input.amount}} is too high"}]}""");

        var result = await _engine.StartAsync(definition, JsonNode.Parse("""{"amount":9}"""), default);

        Assert.Equal(RunStatus.Failed, result.Status);
        Assert.Equal("Amount 9 is too high", result.Error!.Message);
    }

    [Fact]
    public async Task An_expired_task_fails_the_run_by_default()
    {
        var definition = Define(Expense);
        var started = await _engine.StartAsync(definition, JsonNode.Parse("""{"amount":1}"""), default);

        var expired = await _engine.ExpireAsync(definition, Stored(started), "manager", [], default);

        Assert.Equal(RunStatus.Failed, expired.Status);
        Assert.Contains("expired", expired.Error!.Message);
    }

    [Fact]
    public async Task An_expired_task_with_the_continue_policy_follows_its_edges()
    {
        var definition = Define("""
            {"key":"e","start":"r","nodes":[{"id":"r","type":"review","assignees":{"users":["u"]},"expiresAfter":"PT1M","onExpire":"continue"},
              {"id":"late","type":"set","values":{"late":"r.expired"}}],"edges":[{"from":"r","to":"late"}]}
            """);
        var started = await _engine.StartAsync(definition, null, default);

        var expired = await _engine.ExpireAsync(definition, Stored(started), "r", [], default);

        Assert.Equal(RunStatus.Completed, expired.Status);
        Assert.True(expired.Output!["late"]!.GetValue<bool>());
    }

    [Fact]
    public async Task A_cycle_without_a_wait_is_stopped_by_the_step_limit()
    {
        var engine = new WorkflowEngine(new ExpressionEvaluator(), _http, _clock) { MaxSteps = 50 };
        var definition = Define("""
            {"key":"spin","start":"a","nodes":[{"id":"a","type":"set","values":{"x":"1"}},{"id":"b","type":"set","values":{"x":"2"}}],
             "edges":[{"from":"a","to":"b"},{"from":"b","to":"a"}]}
            """);

        var result = await engine.StartAsync(definition, null, default);

        Assert.Equal(RunStatus.Failed, result.Status);
        Assert.Contains("50 node runs", result.Error!.Message);
    }

    [Fact]
    public async Task An_edge_condition_that_throws_fails_the_run()
    {
        var definition = Define("""
            {"key":"bad","start":"a","nodes":[{"id":"a","type":"set","values":{"x":"1"}},{"id":"b","type":"set","values":{"x":"2"}}],
             "edges":[{"from":"a","to":"b","when":"input.missing.deeper == 1"}]}
            """);

        var result = await _engine.StartAsync(definition, JsonNode.Parse("{}"), default);

        Assert.Equal(RunStatus.Failed, result.Status);
        Assert.Contains("a → b", result.Error!.Message);
    }

    [Fact]
    public async Task An_empty_loop_completes_at_once_with_an_empty_array()
    {
        var definition = Define("""
            {"key":"empty","start":"loop","nodes":[{"id":"loop","type":"forEach","items":"input.list","body":"w"},{"id":"w","type":"wait"},
              {"id":"after","type":"set","values":{"count":"loop.length"}}],"edges":[{"from":"loop","to":"after"}]}
            """);

        var result = await _engine.StartAsync(definition, JsonNode.Parse("""{"list":[]}"""), default);

        Assert.Equal(RunStatus.Completed, result.Status);
        Assert.Equal(0, result.Output!["count"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_tool_call_node_lists_its_calls_with_evaluated_arguments()
    {
        var definition = Define("""
            {"key":"agent","start":"tools","nodes":[{"id":"tools","type":"toolCall","tools":[{"name":"get_user","arguments":{"email":"{{input.email}}"}},{"name":"get_user","arguments":{"email":"b@x"}}]}]}
            """);

        var result = await _engine.StartAsync(definition, JsonNode.Parse("""{"email":"a@x"}"""), default);

        var wait = Assert.Single(result.NewWaits);
        Assert.Equal(2, wait.ToolCalls.Count);
        Assert.Equal("a@x", wait.ToolCalls[0].Arguments!["email"]!.GetValue<string>());
        Assert.NotEqual(wait.ToolCalls[0].ToolCallId, wait.ToolCalls[1].ToolCallId);
    }

    [Fact]
    public async Task A_run_started_from_a_node_inherits_the_earlier_outputs_and_runs_only_what_follows()
    {
        var definition = Define("""
            {"key":"from","start":"a","nodes":[{"id":"a","type":"set","values":{"n":"input.n + 1"}},{"id":"b","type":"set","values":{"m":"a.n * 10"}},
              {"id":"c","type":"set","values":{"sum":"a.n + b.m"}},{"id":"skip","type":"fail","message":"not this way"}],
             "edges":[{"from":"a","to":"b"},{"from":"b","to":"c","when":"b.m > 0"},{"from":"b","to":"skip","when":"b.m <= 0"}]}
            """);

        var result = await _engine.StartFromAsync(definition, JsonNode.Parse("""{"n":1}"""),
            [("a", JsonNode.Parse("""{"n":2}""")), ("b", JsonNode.Parse("""{"m":20}"""))], "b", default);

        Assert.Equal(RunStatus.Completed, result.Status);
        Assert.Equal(22, result.Output!["sum"]!.GetValue<int>());
        Assert.Equal(["c"], result.NodeRuns.Select(r => r.NodeId));
    }

    [Fact]
    public async Task An_output_over_the_node_limit_fails_the_node_and_the_run_and_is_not_kept()
    {
        var engine = new WorkflowEngine(new ExpressionEvaluator(), _http, _clock) { MaxNodeOutputBytes = 1000 };
        var definition = Define("""
            {"key":"big","start":"small","nodes":[{"id":"small","type":"set","values":{"s":"'ok'"}},{"id":"big","type":"set","values":{"v":"'x'.repeat(2000)"}},
              {"id":"after","type":"set","values":{"n":"1"}}],
             "edges":[{"from":"small","to":"big"},{"from":"big","to":"after"}]}
            """);

        var result = await engine.StartAsync(definition, null, default);

        Assert.Equal(RunStatus.Failed, result.Status);
        Assert.Equal(("big", "The output of node 'big' is 2 KB; the limit is 1,000 bytes."), (result.Error!.NodeId, result.Error.Message));
        Assert.Equal([("small", NodeRunStatus.Completed), ("big", NodeRunStatus.Failed)], result.NodeRuns.Select(r => (r.NodeId, r.Status)));
        Assert.Null(result.NodeRuns[1].Output);
        Assert.Equal(["small"], Stored(result).Root.Outputs.Keys);
    }

    [Fact]
    public async Task An_output_nested_deeper_than_the_limit_fails_its_node_and_the_state_still_serialises()
    {
        // 62 levels: the value passes JSON's 64, and under outputs in the state it used to fail every retry of the step.
        var definition = Define("""{"key":"k","start":"a","nodes":[{"id":"a","type":"set","values":{"v":"JSON.parse('['.repeat(61) + ']'.repeat(61))"}}]}""");

        var result = await _engine.StartAsync(definition, null, default);

        Assert.Equal(RunStatus.Failed, result.Status);
        Assert.Equal("The output of node 'a' nests 62 levels deep; the limit is 32.", result.Error!.Message);
        Assert.NotNull(RunState.Deserialize(result.State.Serialize()));
    }

    [Fact]
    public async Task A_response_over_the_node_limit_fails_the_http_node()
    {
        var engine = new WorkflowEngine(new ExpressionEvaluator(), _http, _clock) { MaxNodeOutputBytes = 1000 };
        _http.Answer = _ => new HttpNodeResult(200, "OK", JsonValue.Create(new string('x', 5000)));
        var definition = Define("""{"key":"call","start":"call","nodes":[{"id":"call","type":"http","method":"GET","url":"https://example.test/x"}]}""");

        var result = await engine.StartAsync(definition, null, default);

        Assert.Equal(RunStatus.Failed, result.Status);
        Assert.Equal("The output of node 'call' is 4.9 KB; the limit is 1,000 bytes.", result.Error!.Message);
    }

    [Fact]
    public async Task The_node_that_would_take_the_run_state_past_its_limit_fails_and_the_state_stays_within_it()
    {
        var engine = new WorkflowEngine(new ExpressionEvaluator(), _http, _clock) { MaxNodeOutputBytes = 3000, MaxStateBytes = 6000 };
        var definition = Define("""
            {"key":"grow","start":"a","nodes":[{"id":"a","type":"set","values":{"v":"'a'.repeat(1500)"}},{"id":"b","type":"set","values":{"v":"'b'.repeat(1500)"}},
              {"id":"c","type":"set","values":{"v":"'c'.repeat(1500)"}}],
             "edges":[{"from":"a","to":"b"},{"from":"b","to":"c"}]}
            """);

        var result = await engine.StartAsync(definition, null, default);

        Assert.Equal(RunStatus.Failed, result.Status);
        Assert.Equal("c", result.Error!.NodeId);
        Assert.Equal("With the output of node 'c' the run's state would be 6 KB; the limit is 5.9 KB.", result.Error.Message);
        Assert.InRange(result.State.Serialize().Length, 4000, 6000);
    }

    [Fact]
    public async Task A_cycle_without_a_wait_cannot_record_more_outputs_than_the_step_limit()
    {
        var engine = new WorkflowEngine(new ExpressionEvaluator(), _http, _clock) { MaxStepOutputBytes = 20_000 };
        var definition = Define("""
            {"key":"spin","start":"a","nodes":[{"id":"a","type":"set","values":{"v":"'a'.repeat(1000)"}},{"id":"b","type":"set","values":{"v":"'b'.repeat(1000)"}}],
             "edges":[{"from":"a","to":"b"},{"from":"b","to":"a"}]}
            """);

        var result = await engine.StartAsync(definition, null, default);

        Assert.Equal(RunStatus.Failed, result.Status);
        Assert.Equal(
            "With the output of node 'b' the outputs recorded in this step would be 19.7 KB; the limit is 19.5 KB. Does a cycle without a wait produce them?",
            result.Error!.Message);
        Assert.Equal(20, result.NodeRuns.Count);
        Assert.True(result.State.Serialize().Length < 5000);
    }

    [Fact]
    public async Task An_input_over_the_state_limit_fails_the_run_before_any_node_runs()
    {
        var engine = new WorkflowEngine(new ExpressionEvaluator(), _http, _clock) { MaxStateBytes = 100 };
        var definition = Define("""{"key":"k","start":"a","nodes":[{"id":"a","type":"set","values":{"n":"1"}}]}""");

        var result = await engine.StartAsync(definition, new JsonObject { ["s"] = new string('x', 200) }, default);

        Assert.Equal(RunStatus.Failed, result.Status);
        Assert.Equal("The run's state is 340 bytes; the limit is 100 bytes.", result.Error!.Message);
        Assert.Empty(result.NodeRuns);
    }

    [Fact]
    public async Task An_expression_that_would_allocate_past_the_sandbox_fails_its_node()
    {
        var definition = Define("""{"key":"k","start":"a","nodes":[{"id":"a","type":"set","values":{"v":"'x'.repeat(2**28)"}}]}""");

        var result = await _engine.StartAsync(definition, null, default);

        Assert.Equal(RunStatus.Failed, result.Status);
        Assert.Equal("a", result.Error!.NodeId);
        Assert.Contains("String.prototype.repeat would build a string of 268,435,456 characters; the limit is 1,000,000", result.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unforeseen_error_inside_a_node_escapes_the_step_naming_the_node_even_inside_a_loop()
    {
        _http.Answer = _ => throw new InvalidOperationException("the client broke");
        var definition = Define("""
            {"key":"k","start":"each","nodes":[{"id":"each","type":"forEach","items":"input.ids","body":"call"},
              {"id":"call","type":"http","method":"POST","url":"http://svc.test/items/{{item}}"}]}
            """);

        var error = await Assert.ThrowsAsync<NodeStepException>(() => _engine.StartAsync(definition, JsonNode.Parse("""{"ids":[1,2]}"""), default));

        Assert.Equal(("call", "http"), (error.NodeId, error.NodeType));
        Assert.IsType<InvalidOperationException>(error.InnerException);
        Assert.Equal("Node 'call' (http): InvalidOperationException: the client broke", error.Message);
    }

    private sealed class FakeHttp : IHttpNodeInvoker
    {
        public List<HttpNodeRequest> Requests { get; } = [];
        public Func<HttpNodeRequest, HttpNodeResult> Answer { get; set; } = _ => new HttpNodeResult(200, "OK", null);

        public Task<HttpNodeResult> SendAsync(HttpNodeRequest request, CancellationToken cancellationToken)
        {
            Requests.Add(request);
            return Task.FromResult(Answer(request));
        }
    }
}
