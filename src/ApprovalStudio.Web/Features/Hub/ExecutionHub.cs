using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Telemetry;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;

namespace ApprovalStudio.Web.Features.Hub;

/// <summary>What the server calls on its clients.</summary>
public interface IExecutionClient
{
    Task ExecutionEvent(ExecutionEventMessage message);

    Task TaskCreated(InboxTaskMessage task);

    Task TaskResolved(InboxTaskMessage task);
}

/// <summary>
/// <c>/hubs/executions</c>. Subscribing returns what the caller missed (events after
/// <c>afterSequence</c>) and adds it to the run's group for the rest. Live events may overlap the
/// returned ones: clients apply each sequence number once, in order (the JS client does).
/// </summary>
[Authorize(Policy = Policies.Member)]
public sealed class ExecutionHub(ExecutionEventReader events, AppTelemetry telemetry) : Hub<IExecutionClient>
{
    public const string Path = "/hubs/executions";

    public override Task OnConnectedAsync()
    {
        telemetry.HubConnected();
        return base.OnConnectedAsync();
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        telemetry.HubDisconnected();
        return base.OnDisconnectedAsync(exception);
    }

    public async Task<IReadOnlyList<ExecutionEventMessage>> SubscribeExecution(string executionId, long? afterSequence)
    {
        var actor = CurrentActor();
        if (!await events.IsVisibleAsync(executionId, actor, Context.ConnectionAborted))
        {
            throw new HubException($"Execution '{executionId}' was not found in your tenant.");
        }

        // Join first, then read: an event committed in between arrives live and in the list, never in neither.
        await Groups.AddToGroupAsync(Context.ConnectionId, HubGroups.Execution(executionId), Context.ConnectionAborted);
        return await events.ReadAsync(executionId, afterSequence ?? 0, Context.ConnectionAborted);
    }

    /// <summary>The events after <paramref name="afterSequence"/>, without subscribing: for filling a gap.</summary>
    public async Task<IReadOnlyList<ExecutionEventMessage>> GetExecutionEvents(string executionId, long? afterSequence)
    {
        if (!await events.IsVisibleAsync(executionId, CurrentActor(), Context.ConnectionAborted))
        {
            throw new HubException($"Execution '{executionId}' was not found in your tenant.");
        }

        return await events.ReadAsync(executionId, afterSequence ?? 0, Context.ConnectionAborted);
    }

    public Task UnsubscribeExecution(string executionId) =>
        Groups.RemoveFromGroupAsync(Context.ConnectionId, HubGroups.Execution(executionId));

    public async Task SubscribeInbox()
    {
        foreach (var group in HubGroups.InboxOf(CurrentActor()))
        {
            await Groups.AddToGroupAsync(Context.ConnectionId, group, Context.ConnectionAborted);
        }
    }

    private Actor CurrentActor() => Actor.From(Context.User!) ?? throw new HubException("Your token names no tenant.");
}

/// <summary>Hub group names: one per run, and per tenant-scoped user, group and admin set for inboxes.</summary>
public static class HubGroups
{
    public static string Execution(string executionId) => $"execution:{executionId}";

    /// <summary>The inbox group of one audience of a tenant (a person, a group, the admins).</summary>
    public static string Inbox(string tenant, Audience audience) => audience.Kind == Audience.AdminsKind
        ? $"inbox:{tenant}:admins"
        : $"inbox:{tenant}:{audience.Kind}:{audience.Value}";

    /// <summary>The inbox groups a connection of <paramref name="actor"/> joins.</summary>
    public static IEnumerable<string> InboxOf(Actor actor) => Answerers.Of(actor).Select(a => Inbox(actor.TenantId, a));

    /// <summary>The inbox groups a change of <paramref name="task"/> goes to: those who may answer it.</summary>
    public static IReadOnlyList<string> InboxesFor(TaskRecord task) => [.. Answerers.Of(task.Assignees).Select(a => Inbox(task.TenantId, a))];
}
