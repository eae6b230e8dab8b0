using ApprovalStudio.Web.Infrastructure.Persistence;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>
/// A task that appeared in or left the inbox, with whom it is addressed to (user ids and groups; the tenant's admins see
/// every task). Who may see it is the Resume feature's rule: <c>Answerers.May(actor, change)</c>.
/// </summary>
public sealed record TaskChange(InboxTaskMessage Task, string TenantId, IReadOnlyList<string> Users, IReadOnlyList<string> Groups, bool Created)
{
    public static TaskChange From(TaskRecord task, bool created) => new(
        InboxTaskMessage.From(task), task.TenantId,
        [.. task.Assignees.Where(a => a.Kind == AssigneeKinds.User).Select(a => a.Value)],
        [.. task.Assignees.Where(a => a.Kind == AssigneeKinds.Group).Select(a => a.Value)],
        created);
}

/// <summary>
/// What every run did, as this instance hears it — its own worker's steps and, with Redis, every other instance's
/// (<see cref="RedisExecutionEventBus"/>): for the inbox's components (they subscribe after first render and call back
/// through InvokeAsync) and for routes that wait for a run (<see cref="RunWatch"/>). Raised after the commit.
/// </summary>
public sealed class ExecutionEvents
{
    public event Action<TaskChange>? TaskChanged;

    public event Action<ExecutionEventMessage>? ExecutionEvent;

    public void Raise(TaskChange change) => Invoke(TaskChanged, change);

    public void Raise(ExecutionEventMessage message) => Invoke(ExecutionEvent, message);

    // A listener that throws (a closed circuit) must not stop the others, nor the worker that raised it.
    private static void Invoke<T>(Action<T>? handlers, T value)
    {
        foreach (var handler in handlers?.GetInvocationList().Cast<Action<T>>() ?? [])
        {
            try
            {
                handler(value);
            }
            catch (Exception)
            {
            }
        }
    }
}
