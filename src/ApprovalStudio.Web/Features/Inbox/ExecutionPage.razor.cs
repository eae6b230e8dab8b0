using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Notifications;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.EntityFrameworkCore;
using MudBlazor;

namespace ApprovalStudio.Web.Features.Inbox;

public sealed partial class ExecutionPage
{
    private ExecutionView? _view;
    private List<(string NodeId, NotificationView Message)>? _messages;
    private Actor? _actor;
    private bool _loaded;
    private bool _resuming;
    private string? _resumeError;

    [Parameter]
    public string ExecutionId { get; set; } = string.Empty;

    [Inject]
    private InboxQueries Inbox { get; set; } = default!;

    [Inject]
    private ExecutionEvents Events { get; set; } = default!;

    [Inject]
    private TimeProvider Clock { get; set; } = default!;

    /// <summary>A DbContext per read, not one for the circuit's lifetime.</summary>
    [Inject]
    private IDbContextFactory<AppDbContext> Databases { get; set; } = default!;

    /// <summary>Resume-from with a scope (and DbContext) per call, not one for the circuit's lifetime.</summary>
    [Inject]
    private PerCall<ResumePipeline> Pipeline { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState> AuthenticationState { get; set; } = default!;

    private DateTime Now => Clock.GetUtcNow().UtcDateTime;

    protected override async Task OnParametersSetAsync()
    {
        _actor = Actor.From((await AuthenticationState).User);
        await LoadAsync();
    }

    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender)
        {
            Events.ExecutionEvent += OnEvent;
        }
    }

    private async Task LoadAsync()
    {
        _view = _actor is null ? null : await Inbox.ExecutionAsync(_actor, ExecutionId, CancellationToken.None);
        await LoadMessagesAsync();
        _loaded = true;
    }

    /// <summary>For admins: what was sent about the run's tasks, and what failed (addresses are not shown).</summary>
    private async Task LoadMessagesAsync()
    {
        if (_view is null || _actor?.IsAdmin != true)
        {
            return;
        }

        await using var db = await Databases.CreateDbContextAsync();
        _messages = await NotificationsFeature.ForRunAsync(db, _actor.TenantId, ExecutionId, CancellationToken.None);
    }

    /// <summary>Dark text on the theme's status colours: white on them is below WCAG AA contrast (axe).</summary>
    private const string ChipText = "color: rgba(0, 0, 0, 0.87)";

    private static Color MessageColor(string status) => status switch
    {
        NotificationStatuses.Sent => Color.Success,
        NotificationStatuses.Failed => Color.Error,
        NotificationStatuses.Skipped => Color.Default,
        _ => Color.Warning,
    };

    private void OnEvent(ExecutionEventMessage e)
    {
        if (e.ExecutionId == ExecutionId)
        {
            _ = InvokeAsync(async () =>
            {
                await LoadAsync();
                StateHasChanged();
            });
        }
    }

    /// <summary>Resume-from, through the pipeline as the API does it: a new run goes on after this node.</summary>
    private async Task ResumeFromAsync(string nodeId)
    {
        if (_actor is null)
        {
            return;
        }

        _resuming = true;
        var actor = _actor;
        var outcome = await Pipeline.RunAsync(pipeline => pipeline.ResumeFromAsync(actor, ExecutionId, nodeId, CancellationToken.None));
        _resuming = false;
        switch (outcome)
        {
            case ResumeOutcome.Accepted started:
                Navigation.NavigateTo($"/executions/{started.ExecutionId}");
                break;
            case ResumeOutcome.Conflict conflict:
                _resumeError = conflict.Reason;
                break;
            case ResumeOutcome.NotFound notFound:
                _resumeError = $"{notFound.What} was not found.";
                break;
            default:
                _resumeError = "The run could not be resumed from this node.";
                break;
        }
    }

    /// <summary>A node run by its title, with the loop iteration it ran in.</summary>
    private string Label(NodeRunEntity run)
    {
        var iteration = PlainWords.Iteration(run.StackJson, run.StackKey);
        var title = _view?.TitleOf(run) ?? PlainWords.Humanize(run.NodeId);
        return iteration.Length == 0 ? title : $"{title} ({iteration})";
    }

    private static Color StatusColor(string status) => status switch
    {
        ExecutionStatuses.Completed => Color.Success,
        ExecutionStatuses.Failed => Color.Error,
        ExecutionStatuses.Suspended => Color.Warning,
        _ => Color.Info,
    };

    public void Dispose() => Events.ExecutionEvent -= OnEvent;
}
