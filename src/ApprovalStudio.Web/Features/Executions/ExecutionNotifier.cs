using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Persistence;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>One state change of a run, as clients receive it (CONTRACT §5).</summary>
public sealed record ExecutionEventMessage(string ExecutionId, long Sequence, string Type, string? NodeId, string? Status, DateTime At, JsonNode? Data)
{
    public static ExecutionEventMessage From(ExecutionEventRecord e) =>
        new(e.ExecutionId, e.Sequence, e.Type, e.NodeId, e.Status, e.At, e.DataJson is null ? null : JsonNode.Parse(e.DataJson));
}

/// <summary>A task appearing in, or leaving, the inboxes of those who may answer it.</summary>
public sealed record InboxTaskMessage(
    string ResId, string ExecutionId, string WorkflowKey, string NodeId, string Kind, string Title, string Status,
    DateTime CreatedAt, DateTime? ExpiresAt, string? ResolvedBy, string? ResolvedByName, DateTime? ResolvedAt, string? Channel)
{
    public static InboxTaskMessage From(TaskRecord t) =>
        new(t.ResId, t.ExecutionId, t.WorkflowKey, t.NodeId, t.Kind, t.Title, t.Status, t.CreatedAt, t.ExpiresAt, t.ResolvedBy, t.ResolvedByName, t.ResolvedAt, t.Channel);
}

/// <summary>
/// Hears what was just committed: a run's events, a task created or settled. The hub and the inbox's circuits are
/// observers (they sit above the runtime, which does not know them). Best effort by design: the events are already
/// stored, so an observer that misses one catches up by sequence or on its next load, and one that throws never fails
/// a step or a resume.
/// </summary>
public interface IExecutionObserver
{
    Task ExecutionEventsAsync(IReadOnlyList<ExecutionEventMessage> events);

    /// <summary>A task appeared (<paramref name="created"/>) or left the inbox (answered, expired or cancelled); read with its assignees.</summary>
    Task TaskChangedAsync(TaskRecord task, bool created);
}

/// <summary>Tells every <see cref="IExecutionObserver"/> what the worker or the resume pipeline just committed, in commit order.</summary>
public sealed class ExecutionNotifier(IEnumerable<IExecutionObserver> observers, ILogger<ExecutionNotifier> log)
{
    private readonly IExecutionObserver[] _observers = [.. observers];

    public async Task ExecutionEventsAsync(IEnumerable<ExecutionEventRecord> events)
    {
        IReadOnlyList<ExecutionEventMessage> messages = [.. events.Select(ExecutionEventMessage.From)];
        if (messages.Count == 0)
        {
            return;
        }

        foreach (var observer in _observers)
        {
            try
            {
                await observer.ExecutionEventsAsync(messages);
            }
            catch (Exception ex)
            {
                NotifierLog.ObserverFailed(log, observer.GetType().Name, messages[0].ExecutionId, ex);
            }
        }
    }

    public async Task TaskChangedAsync(TaskRecord task, bool created)
    {
        foreach (var observer in _observers)
        {
            try
            {
                await observer.TaskChangedAsync(task, created);
            }
            catch (Exception ex)
            {
                NotifierLog.ObserverFailed(log, observer.GetType().Name, task.ExecutionId, ex);
            }
        }
    }
}

internal static partial class NotifierLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "{Observer} could not take the news of run {ExecutionId}; it catches up from what is stored")]
    public static partial void ObserverFailed(ILogger logger, string observer, string executionId, Exception exception);
}
