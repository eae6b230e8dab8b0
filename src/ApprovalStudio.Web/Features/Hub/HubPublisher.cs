using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.SignalR;

namespace ApprovalStudio.Web.Features.Hub;

/// <summary>
/// Pushes what the runtime committed to the hub's clients (through the Redis backplane when there is one): a run's
/// events to its group, a task change to the inbox groups of those who may answer it. A client that missed an event
/// catches up by sequence, so a hub or backplane that is down is logged and passed over.
/// </summary>
public sealed class HubPublisher(IHubContext<ExecutionHub, IExecutionClient> hub, ILogger<HubPublisher> log) : IExecutionObserver
{
    public async Task ExecutionEventsAsync(IReadOnlyList<ExecutionEventMessage> events)
    {
        foreach (var e in events)
        {
            try
            {
                await hub.Clients.Group(HubGroups.Execution(e.ExecutionId)).ExecutionEvent(e);
            }
            catch (Exception ex)
            {
                // The rest would arrive after a gap: clients fill it by sequence on the next event or reconnect.
                HubLog.PublishFailed(log, e.ExecutionId, e.Sequence, ex);
                return;
            }
        }
    }

    public async Task TaskChangedAsync(TaskRecord task, bool created)
    {
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
