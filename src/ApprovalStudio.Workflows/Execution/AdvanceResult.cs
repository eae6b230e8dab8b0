using System.Text.Json.Nodes;
using ApprovalStudio.Workflows.Definitions;

namespace ApprovalStudio.Workflows.Execution;

public enum RunStatus
{
    Running,
    Suspended,
    Resuming,
    Completed,
    Failed,
    Cancelled,
}

/// <summary>What one step of the engine did: the new state and everything the host must persist with it.</summary>
public sealed record AdvanceResult(
    RunState State,
    RunStatus Status,
    JsonNode? Output,
    RunError? Error,
    IReadOnlyList<WaitRequest> NewWaits,
    IReadOnlyList<NodeRunRecord> NodeRuns);

public sealed record RunError(string Message, string? NodeId, IReadOnlyList<StackFrame> Stack);

/// <summary>A node that suspended in this step; the host turns it into a task with a resId.</summary>
public sealed record WaitRequest(
    WaitingNodeDefinition Node,
    IReadOnlyList<StackFrame> Stack,
    string Title,
    DateTimeOffset Since,
    DateTimeOffset? ExpiresAt,
    IReadOnlyList<ToolCall> ToolCalls);

public sealed record ToolCall(string ToolCallId, string ToolName, JsonNode? Arguments);

public enum NodeRunStatus
{
    /// <summary>Started and not finished within the step: a forEach whose iterations are under way.</summary>
    Running,
    Waiting,
    Completed,
    Failed,
}

public sealed record NodeRunRecord(
    string NodeId,
    string NodeType,
    IReadOnlyList<StackFrame> Stack,
    NodeRunStatus Status,
    JsonNode? Output,
    string? Error,
    DateTimeOffset StartedAt,
    DateTimeOffset? CompletedAt);
