using ApprovalStudio.Web.Features.Cluster;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Inbox;
using ApprovalStudio.Web.Features.Notifications;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Telemetry;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using MudBlazor;

namespace ApprovalStudio.Web.Features.Operations;

/// <summary>
/// <c>/admin/operations</c>: the queue's depth and age for the admin's tenant, its dead-lettered steps (retry), its failed
/// notifications (send again), and the cluster's instances by heartbeat. Read on load and on Refresh.
/// </summary>
public sealed partial class OperationsPage
{
    /// <summary>The most dead letters and failed notifications listed (newest first), and instances.</summary>
    public const int Shown = 50;

    private QueueStats? _queue;
    private List<DeadLetter>? _deadLetters;
    private List<FailedNotification>? _failed;
    private List<InstanceView>? _instances;
    private DateTime _readAt;
    private (bool Ok, string Text)? _notice;
    private bool _busy;
    private Actor _actor = default!;
    private ElementReference _noticeElement;

    // A scope (and DbContext) per call, not one for the circuit's lifetime.
    [Inject]
    private PerCall<AppDbContext> Database { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private PerCall<DeadLetters> DeadLetters { get; set; } = default!;

    [Inject]
    private PerCall<FailedNotifications> Notifications { get; set; } = default!;

    [Inject]
    private InstanceHeartbeat Instances { get; set; } = default!;

    [Inject]
    private TimeProvider Clock { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState> AuthenticationState { get; set; } = default!;

    protected override async Task OnInitializedAsync()
    {
        _actor = Actor.From((await AuthenticationState).User)!;
        await LoadAsync();
    }

    private async Task RefreshAsync()
    {
        _notice = null;
        await LoadAsync();
    }

    private async Task LoadAsync()
    {
        var tenant = _actor.TenantId;
        _queue = await Database.RunAsync(db => QueueStats.ReadAsync(db, tenant, CancellationToken.None));
        _deadLetters = await DeadLetters.RunAsync(d => d.ListAsync(tenant, Shown, CancellationToken.None));
        _failed = await Notifications.RunAsync(n => n.ListAsync(tenant, Shown, CancellationToken.None));
        _instances = await Instances.ListAsync(Shown, CancellationToken.None);
        _readAt = Clock.GetUtcNow().UtcDateTime;
    }

    /// <summary>Asks before an operator's hand changes a run: what will happen, in words, and a button named for it.</summary>
    private async Task<bool> ConfirmAsync(string title, string message, string yes)
    {
        if (_busy)
        {
            return false; // a second click while a dialog or an action is on its way
        }

        _busy = true;
        try
        {
            return await Dialogs.ShowMessageBoxAsync(title, message, yesText: yes, cancelText: "Cancel",
                options: new DialogOptions { CloseOnEscapeKey = true, MaxWidth = MaxWidth.Small }) == true;
        }
        finally
        {
            _busy = false;
        }
    }

    private async Task RetryAsync(DeadLetter item)
    {
        if (!await ConfirmAsync("Retry this step?",
                $"The {item.Kind} step of {item.WorkflowKey} (run {Short(item.ExecutionId)}) runs again, and the run goes on from it. Tasks its failure cancelled open again, and their people are told again. Retry once the cause is fixed.",
                "Retry"))
        {
            return;
        }

        await ActAsync(async () =>
        {
            var outcome = await DeadLetters.RunAsync(d => d.RetryAsync(_actor.TenantId, item.Id, _actor.UserId, CancellationToken.None));
            return (outcome.Retried, outcome.Retried ? $"{item.WorkflowKey}: {outcome.Message}" : outcome.Message);
        });
    }

    private async Task DismissAsync(DeadLetter item)
    {
        if (!await ConfirmAsync("Dismiss this step?",
                $"The {item.Kind} step of {item.WorkflowKey} (run {Short(item.ExecutionId)}) leaves this list and is not retried; the run stays failed. This cannot be undone.",
                "Dismiss"))
        {
            return;
        }

        await ActAsync(async () =>
        {
            var dismissed = await DeadLetters.RunAsync(d => d.DismissAsync(_actor.TenantId, item.Id, _actor.UserId, CancellationToken.None));
            return (dismissed, dismissed
                ? $"The {item.Kind} step of {item.WorkflowKey} is dismissed; the run stays as it is."
                : "That step is no longer dead-lettered: it was retried or dismissed already.");
        });
    }

    private async Task ResendAsync(FailedNotification row)
    {
        await ActAsync(async () =>
        {
            var resent = await Notifications.RunAsync(n => n.ResendAsync(_actor.TenantId, row.Id, _actor.UserId, CancellationToken.None));
            return (resent, resent
                ? $"The {PlainWords.MessageKind(row.Kind).ToLowerInvariant()} message by {PlainWords.MessageChannel(row.Channel)} to {row.RecipientUserId ?? "its recipient"} is queued again."
                : "That notification is no longer failed: it was sent again already.");
        });
    }

    private async Task ActAsync(Func<Task<(bool Ok, string Text)>> action)
    {
        _busy = true;
        try
        {
            _notice = await action();
            await LoadAsync();
        }
        catch (Exception ex) when (ex is Microsoft.EntityFrameworkCore.DbUpdateException or System.Data.Common.DbException or TimeoutException)
        {
            // The database failed under the action: say so and keep the page (and the circuit) alive.
            _notice = (false, "The database did not answer; nothing was changed. Try again in a moment.");
        }
        finally
        {
            _busy = false;
        }

        // The row acted on may be gone: the notice is where the keyboard and a screen reader go next.
        StateHasChanged();
        await Task.Yield();
        try
        {
            await _noticeElement.FocusAsync();
        }
        catch (InvalidOperationException)
        {
            // Not rendered (prerendering, or a disconnected circuit): nothing to focus.
        }
    }

    private static string Short(string executionId) => executionId[..Math.Min(8, executionId.Length)];

    private static Color StateColor(InstanceState state) => state switch
    {
        InstanceState.Alive => Color.Success,
        InstanceState.Silent => Color.Error,
        InstanceState.TakenOver => Color.Warning,
        _ => Color.Default,
    };

    private static string StateIcon(InstanceState state) => state switch
    {
        InstanceState.Alive => Icons.Material.Filled.CheckCircle,
        InstanceState.Silent => Icons.Material.Filled.Error,
        InstanceState.TakenOver => Icons.Material.Filled.Warning,
        _ => Icons.Material.Filled.StopCircle,
    };

    private static string StateText(InstanceView instance) => instance.State switch
    {
        InstanceState.Alive => "Alive",
        InstanceState.Silent => "Silent",
        InstanceState.Stopped => "Stopped",
        _ => $"Died; taken over by {instance.TakenOverBy}",
    };
}
