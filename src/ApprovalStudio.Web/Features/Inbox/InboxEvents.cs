using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;

namespace ApprovalStudio.Web.Features.Inbox;

/// <summary>A task that appeared in or left the inbox, with who may see it.</summary>
public sealed record InboxChange(InboxTaskMessage Task, string TenantId, IReadOnlyList<Audience> Audiences, bool Created)
{
    public static InboxChange From(TaskRecord task, bool created) => new(InboxTaskMessage.From(task), task.TenantId, Answerers.Of(task.Assignees), created);

    public bool IsFor(Actor actor) => Answerers.May(actor, TenantId, Audiences);
}

/// <summary>
/// In-process notifications for the inbox's components (they subscribe after first render and call
/// back through InvokeAsync). Raised by the inbox bus, an observer of <see cref="ExecutionNotifier"/>.
/// </summary>
public sealed class InboxEvents
{
    public event Action<InboxChange>? TaskChanged;

    public event Action<ExecutionEventMessage>? ExecutionEvent;

    public void Raise(InboxChange change) => Invoke(TaskChanged, change);

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
