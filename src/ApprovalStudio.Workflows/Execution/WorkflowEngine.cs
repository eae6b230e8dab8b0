using System.Security.Cryptography;
using System.Text.Json.Nodes;
using ApprovalStudio.Workflows.Definitions;
using ApprovalStudio.Workflows.Expressions;

namespace ApprovalStudio.Workflows.Execution;

/// <summary>
/// Advances a run from one durable point to the next: it starts it, or resumes one waiting node,
/// then runs every node that can run until the run completes, fails, or only waits remain.
/// It keeps no state of its own; the host persists <see cref="AdvanceResult"/> in one transaction.
/// </summary>
public sealed class WorkflowEngine(ExpressionEvaluator expressions, IHttpNodeInvoker http, TimeProvider clock)
{
    /// <summary>What an http node's request carries to make a step done again after a crash safe downstream (IETF draft).</summary>
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    private readonly ExpressionEvaluator _expressions = expressions;
    private readonly IHttpNodeInvoker _http = http;
    private readonly TimeProvider _clock = clock;

    /// <summary>Node runs allowed in one run, so that a cycle without a wait cannot spin forever.</summary>
    public int MaxSteps { get; init; } = 10_000;

    /// <summary>The largest output a node may produce, as stored (UTF-8 JSON); a larger one fails the node.</summary>
    public int MaxNodeOutputBytes { get; init; } = 1024 * 1024;

    /// <summary>
    /// How deep a node output's JSON may nest. The node log and the run's events write an output inside an object
    /// or two with System.Text.Json's default limit of 64 levels; a JSON value an expression, a response or an answer
    /// yields can already be 64 deep.
    /// </summary>
    public int MaxNodeOutputDepth { get; init; } = 32;

    /// <summary>The largest run state (input, outputs, loops, transcript) a step may leave; a node that would pass it fails.</summary>
    public int MaxStateBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>
    /// The node outputs one step may record (the node log and the run's events keep each): a cycle without a wait
    /// that overwrites one output keeps the state small but would record it once per turn.
    /// </summary>
    public long MaxStepOutputBytes { get; init; } = 32L * 1024 * 1024;

    /// <param name="runId">The host's id of the run (see <see cref="RunState.RunId"/>); a resumed run's state carries it.</param>
    public Task<AdvanceResult> StartAsync(WorkflowDefinition definition, JsonNode? input, CancellationToken cancellationToken, string? runId = null)
    {
        var state = new RunState { Input = input?.DeepClone() ?? new JsonObject(), RunId = runId };
        state.Root.Ready.Add(definition.Start);
        return AdvanceAsync(definition, state, null, cancellationToken);
    }

    /// <summary>
    /// A new run that inherits <paramref name="input"/> and the outputs of the top-level nodes an earlier
    /// run completed (in order, up to and including <paramref name="fromNodeId"/>) and goes on from that
    /// node's successors (resume-from, CONTRACT §4.3).
    /// </summary>
    public Task<AdvanceResult> StartFromAsync(
        WorkflowDefinition definition, JsonNode? input, IReadOnlyList<(string NodeId, JsonNode? Output)> completed, string fromNodeId,
        CancellationToken cancellationToken, string? runId = null)
    {
        var state = new RunState { Input = input?.DeepClone() ?? new JsonObject(), RunId = runId };
        foreach (var (nodeId, output) in completed)
        {
            state.Root.Outputs[nodeId] = output?.DeepClone();
            state.Root.LastNodeId = nodeId;
            state.Root.LastOutput = output?.DeepClone();
        }

        return AdvanceAsync(definition, state, step => step.FollowEdgesAsync(fromNodeId), cancellationToken);
    }

    /// <summary>Completes the waiting node <paramref name="nodeId"/> at <paramref name="stack"/> with <paramref name="output"/>.</summary>
    public Task<AdvanceResult> ResumeAsync(
        WorkflowDefinition definition, RunState state, string nodeId, IReadOnlyList<StackFrame> stack, JsonNode? output,
        CancellationToken cancellationToken, JsonArray? messages = null) =>
        AdvanceAsync(definition, state, step => step.CompleteWaitAsync(nodeId, stack, output, messages), cancellationToken);

    /// <summary>
    /// The deadline of the waiting node passed: follow its expiry policy. <paramref name="votes"/>: an approval that was being
    /// voted on (issue 15) — the votes cast and the tally, kept in the output or said in the failure.
    /// </summary>
    public Task<AdvanceResult> ExpireAsync(
        WorkflowDefinition definition, RunState state, string nodeId, IReadOnlyList<StackFrame> stack, CancellationToken cancellationToken,
        (JsonArray Votes, JsonNode Tally, string Described)? votes = null) =>
        AdvanceAsync(definition, state, step =>
        {
            var node = definition.Node(nodeId);
            if (node is HumanNodeDefinition { OnExpire: ExpiryAction.Continue })
            {
                var output = new JsonObject { ["expired"] = true, ["at"] = _clock.GetUtcNow() };
                if (votes is { } cast)
                {
                    output["votes"] = cast.Votes;
                    output["tally"] = cast.Tally;
                }

                return step.CompleteWaitAsync(nodeId, stack, output);
            }

            var title = node is HumanNodeDefinition human ? human.Title : nodeId;
            step.Fail(nodeId, stack, votes is { } open
                ? $"The task '{title}' at node '{nodeId}' expired before its vote was settled ({open.Described})."
                : $"The task '{title}' at node '{nodeId}' expired before anyone answered it.");
            return Task.CompletedTask;
        }, cancellationToken);

    private async Task<AdvanceResult> AdvanceAsync(
        WorkflowDefinition definition, RunState state, Func<Step, Task>? first, CancellationToken cancellationToken)
    {
        var step = new Step(this, definition, state, cancellationToken);
        if (step.Budget.StateBytes > MaxStateBytes)
        {
            step.Fail(null, [], $"The run's state is {ByteSize.OverLimit(step.Budget.StateBytes, MaxStateBytes)}.");
        }
        else if (first is not null)
        {
            await first(step);
        }

        if (step.Error is null)
        {
            await step.DrainAsync(state.Root, []);
        }

        var status = step.Error is not null ? RunStatus.Failed
            : state.Root.IsIdle ? RunStatus.Completed
            : RunStatus.Suspended;
        return new AdvanceResult(
            state, status, status == RunStatus.Completed ? state.Root.LastOutput?.DeepClone() : null,
            step.Error, step.Waits, step.NodeRuns);
    }

    private sealed class Step(WorkflowEngine engine, WorkflowDefinition definition, RunState state, CancellationToken cancellationToken)
    {
        public RunError? Error { get; private set; }
        public List<WaitRequest> Waits { get; } = [];
        public List<NodeRunRecord> NodeRuns { get; } = [];
        public RunBudget Budget { get; } = new(state);

        private DateTimeOffset Now => engine._clock.GetUtcNow();

        public void Fail(string? nodeId, IReadOnlyList<StackFrame> stack, string message) =>
            Error ??= new RunError(message, nodeId, stack);

        public async Task CompleteWaitAsync(string nodeId, IReadOnlyList<StackFrame> stack, JsonNode? output, JsonArray? messages = null)
        {
            var scope = state.Find(stack);
            if (scope is null || !scope.Waiting.Remove(nodeId, out var since))
            {
                throw new NotWaitingException(nodeId, stack);
            }

            var node = definition.Node(nodeId);
            if (messages is not null)
            {
                if (!Grow(node, stack, since, messages.Sum(m => Budget.Size(m) + 1), "the messages of the answer"))
                {
                    return;
                }

                foreach (var message in messages)
                {
                    state.Transcript.Add(message?.DeepClone());
                }
            }

            await CompleteAsync(node, scope, stack, output, since);
        }

        public Task FollowEdgesAsync(string nodeId) => FollowEdgesAsync(definition.Node(nodeId), state.Root, []);

        /// <summary>Runs everything runnable in <paramref name="scope"/> and the iterations below it.</summary>
        public async Task DrainAsync(Scope scope, IReadOnlyList<StackFrame> stack)
        {
            while (Error is null)
            {
                while (scope.Ready.Count > 0 && Error is null)
                {
                    var nodeId = scope.Ready[0];
                    scope.Ready.RemoveAt(0);
                    await RunNodeAsync(definition.Node(nodeId), scope, stack);
                }

                var finishedLoop = false;
                foreach (var (loopId, loop) in scope.Loops.ToArray())
                {
                    for (var i = 0; i < loop.Iterations.Count && Error is null; i++)
                    {
                        await DrainAsync(loop.Iterations[i], [.. stack, new StackFrame(loopId, i, loop.Iterations.Count)]);
                    }

                    if (Error is null && loop.Iterations.All(s => s.IsIdle))
                    {
                        scope.Loops.Remove(loopId);
                        var results = new JsonArray([.. loop.Iterations.Select(s => s.LastOutput?.DeepClone())]);
                        await CompleteAsync(definition.Node(loopId), scope, stack, results, loop.StartedAt);
                        finishedLoop = true;
                    }
                }

                if (!finishedLoop || Error is not null)
                {
                    return;
                }
            }
        }

        private async Task RunNodeAsync(NodeDefinition node, Scope scope, IReadOnlyList<StackFrame> stack)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (++state.Steps > engine.MaxSteps)
            {
                Fail(node.Id, stack, $"The run exceeded {engine.MaxSteps} node runs; is there a cycle without a wait?");
                return;
            }

            var started = Now;
            try
            {
                switch (node)
                {
                    case WaitingNodeDefinition waiting:
                        Suspend(waiting, scope, stack, started);
                        break;
                    case SetNode set:
                        var context = Context(stack);
                        var values = new JsonObject();
                        foreach (var (name, expression) in set.Values)
                        {
                            values[name] = engine._expressions.Evaluate(expression, context);
                        }

                        await CompleteAsync(node, scope, stack, values, started);
                        break;
                    case HttpNode request:
                        await RunHttpAsync(request, scope, stack, started);
                        break;
                    case FailNode fail:
                        var message = Template.RenderText(fail.Message, engine._expressions, Context(stack));
                        Record(node, stack, NodeRunStatus.Failed, null, message, started);
                        Fail(node.Id, stack, message);
                        break;
                    case ForEachNode loop:
                        StartLoop(loop, scope, stack, started);
                        break;
                    default:
                        throw new InvalidOperationException($"No runner for node type '{node.Type}'.");
                }
            }
            catch (ExpressionException ex)
            {
                Record(node, stack, NodeRunStatus.Failed, null, ex.Message, started);
                Fail(node.Id, stack, ex.Message);
            }
            catch (Exception ex) when (ex is not (OperationCanceledException or NodeStepException or NotWaitingException))
            {
                // Not the node's own failure (those fail the run above and in the runners) but something that was not foreseen:
                // the step is tried again, and if it never succeeds its dead letter names this node.
                throw new NodeStepException(node.Id, node.Type, ex);
            }
        }

        private async Task RunHttpAsync(HttpNode node, Scope scope, IReadOnlyList<StackFrame> stack, DateTimeOffset started)
        {
            var context = Context(stack);
            var url = Template.RenderText(node.Url, engine._expressions, context);
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                FailNode(node, stack, started, $"'{url}' is not an absolute http(s) URL.");
                return;
            }

            var headers = node.Headers.ToDictionary(h => h.Key, h => Template.RenderText(h.Value, engine._expressions, context));
            if (IdempotencyKey(node, stack) is { } key && !headers.Keys.Any(h => h.Equals(IdempotencyKeyHeader, StringComparison.OrdinalIgnoreCase)))
            {
                headers[IdempotencyKeyHeader] = key;
            }

            var body = Template.Render(node.Body, engine._expressions, context);
            HttpNodeResult result;
            try
            {
                result = await engine._http.SendAsync(new HttpNodeRequest(node.Method, uri, headers, body), cancellationToken);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                FailNode(node, stack, started, $"{node.Method} {uri.GetLeftPart(UriPartial.Path)} failed: {ex.Message}");
                return;
            }

            var output = new JsonObject { ["status"] = result.Status, ["body"] = result.Body };
            if (!result.IsSuccess)
            {
                FailNode(node, stack, started, $"{node.Method} {uri.GetLeftPart(UriPartial.Path)} answered {result.Status} {result.Reason}.", output);
                return;
            }

            await CompleteAsync(node, scope, stack, output, started);
        }

        /// <summary>
        /// The same for this node's run however often the step is done again (it starts from the same stored state, so the
        /// node is reached at the same count of node runs), and different for every other run of the node: another run,
        /// iteration, or turn of a cycle. Not for reads (GET, HEAD, OPTIONS), nor without the host's run id.
        /// </summary>
        private string? IdempotencyKey(HttpNode node, IReadOnlyList<StackFrame> stack)
        {
            if (state.RunId is null || node.Method.ToUpperInvariant() is "GET" or "HEAD" or "OPTIONS")
            {
                return null;
            }

            var hash = SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{state.RunId}\n{node.Id}\n{StackFrame.Key(stack)}\n{state.Steps}"));
            return Convert.ToHexStringLower(hash.AsSpan(0, 16));
        }

        private void FailNode(NodeDefinition node, IReadOnlyList<StackFrame> stack, DateTimeOffset started, string message, JsonNode? output = null)
        {
            // A failed http node keeps its response when there is room for it.
            var size = output is null ? 0 : Budget.Size(output);
            if (output is not null && (size > engine.MaxNodeOutputBytes || Depth(output) > engine.MaxNodeOutputDepth || !Budget.Record(size, engine.MaxStepOutputBytes)))
            {
                output = null;
            }

            Record(node, stack, NodeRunStatus.Failed, output, message, started);
            Fail(node.Id, stack, message);
        }

        /// <summary>Whether the run state may grow by <paramref name="bytes"/>; when it may not, the node fails, saying so.</summary>
        private bool Grow(NodeDefinition node, IReadOnlyList<StackFrame> stack, DateTimeOffset started, long bytes, string what)
        {
            if (Budget.Grow(bytes, engine.MaxStateBytes) is not { } size)
            {
                return true;
            }

            FailNode(node, stack, started, $"With {what} of node '{node.Id}' the run's state would be {ByteSize.OverLimit(size, engine.MaxStateBytes)}.");
            return false;
        }

        private void StartLoop(ForEachNode loop, Scope scope, IReadOnlyList<StackFrame> stack, DateTimeOffset started)
        {
            var items = engine._expressions.Evaluate(loop.Items, Context(stack));
            if (items is not JsonArray array)
            {
                FailNode(loop, stack, started, $"forEach '{loop.Id}': items '{loop.Items}' did not yield an array.");
                return;
            }

            // The items, and per iteration a scope: {"outputs":{},"ready":["body"],"waiting":{},"loops":{},"lastNodeId":null,"lastOutput":null}
            if (!Grow(loop, stack, started, Budget.Size(array) + loop.Id.Length + 96 + (array.Count * (128L + loop.Body.Length)), "the items"))
            {
                return;
            }

            var state = new LoopState { Items = (JsonArray)array.DeepClone(), StartedAt = started };
            foreach (var _ in array)
            {
                var iteration = new Scope();
                iteration.Ready.Add(loop.Body);
                state.Iterations.Add(iteration);
            }

            // An empty loop completes at once; otherwise DrainAsync completes it when its iterations are idle.
            scope.Loops[loop.Id] = state;
            if (array.Count > 0)
            {
                Record(loop, stack, NodeRunStatus.Running, null, null, started, completed: false);
            }
        }

        private void Suspend(WaitingNodeDefinition node, Scope scope, IReadOnlyList<StackFrame> stack, DateTimeOffset since)
        {
            if (!Grow(node, stack, since, node.Id.Length + 40, "the wait"))
            {
                return;
            }

            if (!scope.Waiting.TryAdd(node.Id, since))
            {
                return;
            }

            var context = Context(stack);
            var title = node switch
            {
                HumanNodeDefinition human => Template.RenderText(human.Title, engine._expressions, context),
                WaitNode wait => Template.RenderText(wait.Title, engine._expressions, context),
                ToolCallNode tool => Template.RenderText(tool.Title, engine._expressions, context),
                _ => node.Id,
            };
            var expiresAt = node is HumanNodeDefinition { ExpiresAfter: { } after } ? since + after : (DateTimeOffset?)null;
            var calls = node is ToolCallNode tools
                ? tools.Tools.Select(t => new ToolCall(NewToolCallId(), t.Name, Template.Render(t.Arguments, engine._expressions, context))).ToList()
                : [];
            Waits.Add(new WaitRequest(node, stack, title, since, expiresAt, calls));
            Record(node, stack, NodeRunStatus.Waiting, null, null, since, completed: false);
        }

        private async Task CompleteAsync(NodeDefinition node, Scope scope, IReadOnlyList<StackFrame> stack, JsonNode? output, DateTimeOffset started)
        {
            var size = Budget.Size(output);
            if (size > engine.MaxNodeOutputBytes)
            {
                FailNode(node, stack, started, $"The output of node '{node.Id}' is {ByteSize.OverLimit(size, engine.MaxNodeOutputBytes)}.");
                return;
            }

            if (Depth(output) is var depth && depth > engine.MaxNodeOutputDepth)
            {
                FailNode(node, stack, started, $"The output of node '{node.Id}' nests {depth} levels deep; the limit is {engine.MaxNodeOutputDepth}.");
                return;
            }

            if (!Budget.Record(size, engine.MaxStepOutputBytes))
            {
                FailNode(node, stack, started,
                    $"With the output of node '{node.Id}' the outputs recorded in this step would be {ByteSize.OverLimit(Budget.RecordedBytes + size, engine.MaxStepOutputBytes)}. Does a cycle without a wait produce them?");
                return;
            }

            // The state keeps the output twice (outputs[id] and lastOutput) and the id as lastNodeId.
            var growth = (scope.Outputs.TryGetValue(node.Id, out var previous) ? size - Budget.Size(previous) : size + node.Id.Length + 4)
                + size - Budget.Size(scope.LastOutput) + node.Id.Length - (scope.LastNodeId?.Length ?? 2);
            if (!Grow(node, stack, started, growth, "the output"))
            {
                return;
            }

            scope.Outputs[node.Id] = Budget.Sized(output?.DeepClone(), size);
            scope.LastNodeId = node.Id;
            scope.LastOutput = Budget.Sized(output?.DeepClone(), size);
            Record(node, stack, NodeRunStatus.Completed, output, null, started);
            await FollowEdgesAsync(node, scope, stack);
        }

        private async Task FollowEdgesAsync(NodeDefinition node, Scope scope, IReadOnlyList<StackFrame> stack)
        {
            var edges = definition.Outgoing(node.Id);
            if (edges.Count == 0)
            {
                return;
            }

            var context = Context(stack);
            foreach (var edge in edges)
            {
                bool taken;
                try
                {
                    taken = edge.When is null || engine._expressions.IsTrue(edge.When, context);
                }
                catch (ExpressionException ex)
                {
                    Fail(node.Id, stack, $"Edge {edge.From} → {edge.To}: {ex.Message}");
                    return;
                }

                if (taken && !scope.Ready.Contains(edge.To) && !scope.Waiting.ContainsKey(edge.To) && !scope.Loops.ContainsKey(edge.To))
                {
                    scope.Ready.Add(edge.To);
                }
            }

            await Task.CompletedTask;
        }

        /// <summary>
        /// What expressions see: <c>input</c>, the outputs of completed nodes (an iteration's own
        /// outputs over its enclosing scopes'), <c>item</c>/<c>index</c> of the innermost loop,
        /// <c>loops.&lt;forEachId&gt;</c> for every enclosing loop, and the run's <c>transcript</c>.
        /// </summary>
        private JsonObject Context(IReadOnlyList<StackFrame> stack)
        {
            var context = new JsonObject();
            var scope = state.Root;
            Overlay(context, scope);
            var loops = new JsonObject();
            foreach (var frame in stack)
            {
                var loop = scope.Loops[frame.ParentNodeId];
                scope = loop.Iterations[frame.Index];
                var item = loop.Items[frame.Index]?.DeepClone();
                loops[frame.ParentNodeId] = new JsonObject { ["item"] = item, ["index"] = frame.Index, ["total"] = frame.Total };
                Overlay(context, scope);
                context["item"] = item?.DeepClone();
                context["index"] = frame.Index;
            }

            context["loops"] = loops;
            context["input"] = state.Input?.DeepClone();
            context["transcript"] = state.Transcript.DeepClone();
            return context;

            static void Overlay(JsonObject context, Scope scope)
            {
                foreach (var (id, output) in scope.Outputs)
                {
                    context[id] = output?.DeepClone();
                }
            }
        }

        private void Record(NodeDefinition node, IReadOnlyList<StackFrame> stack, NodeRunStatus status, JsonNode? output, string? error, DateTimeOffset started, bool completed = true) =>
            NodeRuns.Add(new NodeRunRecord(node.Id, node.Type, stack, status, output?.DeepClone(), error, started, completed ? Now : null));

        private static int Depth(JsonNode? node) => node switch
        {
            JsonObject obj => 1 + obj.Select(p => Depth(p.Value)).DefaultIfEmpty(0).Max(),
            JsonArray array => 1 + array.Select(Depth).DefaultIfEmpty(0).Max(),
            _ => 0,
        };

        private static string NewToolCallId() => "call_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
    }
}

/// <summary>
/// Something unforeseen went wrong while a node ran (not the node's own failure, which fails the run): the host's worker
/// tries the step again, and names <see cref="NodeId"/> when it gives up.
/// </summary>
public sealed class NodeStepException(string nodeId, string nodeType, Exception inner)
    : Exception($"Node '{nodeId}' ({nodeType}): {inner.GetType().Name}: {inner.Message}", inner)
{
    public string NodeId { get; } = nodeId;
    public string NodeType { get; } = nodeType;
}

/// <summary>The addressed node is not waiting at that stack (already resumed, not reached, or the run is over).</summary>
public sealed class NotWaitingException(string nodeId, IReadOnlyList<StackFrame> stack)
    : Exception($"Node '{nodeId}' is not waiting at [{StackFrame.Key(stack)}].")
{
    public string NodeId { get; } = nodeId;
    public IReadOnlyList<StackFrame> Stack { get; } = stack;
}
