using ApprovalStudio.Web.Features.Inbox;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.SignalR;

namespace ApprovalStudio.Web.Features.Hub;

/// <summary>
/// Pushes what was just committed to the hub's clients (through the Redis backplane when there is
/// one). Best effort by design: the events are already stored, so a client that missed one catches
/// up by sequence, and a hub or backplane that is down never fails a step or a resume.
/// </summary>
public sealed class ExecutionNotifier(IHubContext<ExecutionHub, IExecutionClient> hub, IInboxBus inbox, ILogger<ExecutionNotifier> log)
{
    public async Task ExecutionEventsAsync(IEnumerable<ExecutionEventRecord> events)
    {
        foreach (var e in events)
        {
            await inbox.PublishAsync(ExecutionEventMessage.From(e));
        }

        foreach (var e in events)
        {
            try
            {
                await hub.Clients.Group(HubGroups.Execution(e.ExecutionId)).ExecutionEvent(ExecutionEventMessage.From(e));
            }
            catch (Exception ex)
            {
                HubLog.PublishFailed(log, e.ExecutionId, e.Sequence, ex);
                return;
            }
        }
    }

    /// <summary>A task appeared (<paramref name="created"/>) or left the inbox (answered, expired or cancelled).</summary>
    public async Task TaskChangedAsync(TaskRecord task, bool created)
    {
        await inbox.PublishAsync(InboxChange.From(task, created));
        try
        {
            var clients = hub.Clients.Groups(HubGroups.InboxesFor(task));
            var message = InboxTaskMessage.From(task);
            await (created ? clients.TaskCreated(message) : clients.TaskResolved(message));
        }
        catch (Exception ex)
        {
            HubLog.InboxPublishFailed(log, task.ExecutionId, task.NodeId, ex);
        }
    }
}

internal static partial class HubLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not push event {Sequence} of run {ExecutionId}; clients catch up by sequence")]
    public static partial void PublishFailed(ILogger logger, string executionId, long sequence, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not push the inbox change of task {NodeId} in run {ExecutionId}")]
    public static partial void InboxPublishFailed(ILogger logger, string executionId, string nodeId, Exception exception);
}
