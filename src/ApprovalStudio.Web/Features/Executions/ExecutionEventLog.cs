using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Workflows.Definitions;
using ApprovalStudio.Workflows.Execution;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>The event types of a run (CONTRACT §5).</summary>
public static class ExecutionEventTypes
{
    public const string Started = "started";
    public const string Resumed = "resumed";
    public const string Expired = "expired";
    public const string NodeStarted = "nodeStarted";
    public const string NodeCompleted = "nodeCompleted";
    public const string NodeFailed = "nodeFailed";
    public const string Suspended = "suspended";
    public const string Completed = "completed";
    public const string Failed = "failed";

    /// <summary>Someone voted on an approval with a quorum, and the vote did not settle it (issue 15): the run still waits.</summary>
    public const string Voted = "voted";

    /// <summary>A run its dead-lettered step had failed is running again: an operator retried the step (DeadLetters).</summary>
    public const string Retried = "retried";
}

/// <summary>
/// Turns one step of a run into its numbered events. The worker that holds the run's queue item writes
/// them, in the step's own transaction and under the run's concurrency token; the one other writer is an
/// answer's <c>resumed</c> event (<see cref="Resumed"/>), numbered in the answer's transaction under the
/// same token — so the sequence has no gaps and no duplicates. Node events carry the node's status; run
/// events the run's.
/// </summary>
public sealed class ExecutionEventLog(ExecutionRecord execution, WorkflowDefinition definition)
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);
    private readonly List<ExecutionEventRecord> _events = [];

    public IReadOnlyList<ExecutionEventRecord> ForStep(
        string kind, TaskRecord? task, AdvanceResult result, IReadOnlyList<TaskRecord> created, int pendingTasks, DateTime now)
    {
        switch (kind)
        {
            case QueueKinds.Start or QueueKinds.StartFrom:
                Add(ExecutionEventTypes.Started, null, ExecutionStatuses.Running, execution.CreatedAt, new JsonObject
                {
                    ["workflowKey"] = execution.WorkflowKey, ["workflowVersion"] = execution.WorkflowVersion,
                    ["resumedFrom"] = execution.ResumedFromExecutionId is null ? null
                        : new JsonObject { ["executionId"] = execution.ResumedFromExecutionId, ["nodeId"] = execution.ResumedFromNodeId },
                });
                break;
            // QueueKinds.Resume: its `resumed` event was written with the answer (Resumed, below).
            case QueueKinds.Expire:
                Add(ExecutionEventTypes.Expired, task!.NodeId, TaskStatuses.Expired, now, new JsonObject
                {
                    ["resId"] = task.ResId, ["expiredAt"] = task.ExpiresAt, ["stack"] = JsonNode.Parse(task.StackJson),
                });
                break;
        }

        foreach (var run in result.NodeRuns)
        {
            AddNodeRun(run, created);
        }

        switch (result.Status)
        {
            case RunStatus.Completed:
                Add(ExecutionEventTypes.Completed, null, ExecutionStatuses.Completed, now, new JsonObject { ["output"] = result.Output?.DeepClone() });
                break;
            case RunStatus.Failed:
                Add(ExecutionEventTypes.Failed, result.Error?.NodeId, ExecutionStatuses.Failed, now, new JsonObject
                {
                    ["error"] = result.Error?.Message, ["stack"] = Stack(result.Error?.Stack ?? []),
                });
                break;
            case RunStatus.Suspended when created.Count == 0:
                // Nothing new to wait for, but other waits remain: the step ends here.
                Add(ExecutionEventTypes.Suspended, null, ExecutionStatuses.Suspended, now, new JsonObject { ["pendingTasks"] = pendingTasks });
                break;
        }

        return _events;
    }

    /// <summary>
    /// The <c>resumed</c> event of an answer, numbered <paramref name="sequence"/>: written by the resume pipeline in the
    /// answer's own transaction, so clients see it when the 202 goes out rather than when the continuation ends.
    /// </summary>
    public static ExecutionEventRecord Resumed(TaskRecord task, long sequence, string actor, string? actorName, string channel, DateTime at) => new()
    {
        ExecutionId = task.ExecutionId,
        Sequence = sequence,
        TenantId = task.TenantId,
        Type = ExecutionEventTypes.Resumed,
        NodeId = task.NodeId,
        Status = ExecutionStatuses.Resuming,
        At = at,
        DataJson = new JsonObject
        {
            ["resId"] = task.ResId, ["actor"] = actor, ["actorName"] = actorName, ["channel"] = channel, ["stack"] = JsonNode.Parse(task.StackJson),
        }.ToJsonString(),
    };

    private void AddNodeRun(NodeRunRecord run, IReadOnlyList<TaskRecord> created)
    {
        var data = new JsonObject { ["nodeType"] = run.NodeType, ["stack"] = Stack(run.Stack) };
        var node = definition.Node(run.NodeId);

        // Waiting nodes and non-empty loops announced their start in the step where they began.
        var startedEarlier = node is WaitingNodeDefinition || (node is ForEachNode && run.Output is JsonArray { Count: > 0 });
        switch (run.Status)
        {
            case NodeRunStatus.Running:
                Add(ExecutionEventTypes.NodeStarted, run.NodeId, nameof(NodeRunStatus.Running), run.StartedAt.UtcDateTime, data);
                break;
            case NodeRunStatus.Waiting:
                Add(ExecutionEventTypes.NodeStarted, run.NodeId, nameof(NodeRunStatus.Waiting), run.StartedAt.UtcDateTime, data);
                var stackKey = StackFrame.Key(run.Stack);
                var task = created.First(t => t.NodeId == run.NodeId && t.StackKey == stackKey);
                Add(ExecutionEventTypes.Suspended, run.NodeId, ExecutionStatuses.Suspended, run.StartedAt.UtcDateTime, new JsonObject
                {
                    ["resId"] = task.ResId, ["kind"] = task.Kind, ["title"] = task.Title, ["stack"] = Stack(run.Stack), ["expiresAt"] = task.ExpiresAt,
                });
                break;
            case NodeRunStatus.Completed:
                if (!startedEarlier)
                {
                    Add(ExecutionEventTypes.NodeStarted, run.NodeId, nameof(NodeRunStatus.Running), run.StartedAt.UtcDateTime, (JsonObject)data.DeepClone());
                }

                data["output"] = run.Output?.DeepClone();
                Add(ExecutionEventTypes.NodeCompleted, run.NodeId, nameof(NodeRunStatus.Completed), (run.CompletedAt ?? run.StartedAt).UtcDateTime, data);
                break;
            case NodeRunStatus.Failed:
                if (!startedEarlier)
                {
                    Add(ExecutionEventTypes.NodeStarted, run.NodeId, nameof(NodeRunStatus.Running), run.StartedAt.UtcDateTime, (JsonObject)data.DeepClone());
                }

                data["error"] = run.Error;
                Add(ExecutionEventTypes.NodeFailed, run.NodeId, nameof(NodeRunStatus.Failed), (run.CompletedAt ?? run.StartedAt).UtcDateTime, data);
                break;
        }
    }

    private void Add(string type, string? nodeId, string? status, DateTime at, JsonObject? data) =>
        _events.Add(new ExecutionEventRecord
        {
            ExecutionId = execution.Id,
            Sequence = ++execution.LastSequence,
            TenantId = execution.TenantId,
            Type = type,
            NodeId = nodeId,
            Status = status,
            At = at,
            DataJson = data?.ToJsonString(),
        });

    private static JsonNode? Stack(IReadOnlyList<StackFrame> stack) => JsonSerializer.SerializeToNode(stack, JsonOptions);
}
