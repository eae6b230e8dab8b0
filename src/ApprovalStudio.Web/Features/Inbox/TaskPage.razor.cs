using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Hub;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using MudBlazor;

namespace ApprovalStudio.Web.Features.Inbox;

/// <summary>
/// One task and the UI for its kind. Answers go through <see cref="ResumePipeline"/> exactly as the
/// API's do (same body, validation, codes and audit record; channel "inbox"); after a 202 the page
/// follows the run live until its next wait or end.
/// </summary>
public sealed partial class TaskPage
{
    public const string Channel = "inbox";

    private readonly SortedDictionary<long, ExecutionEventMessage> _progress = [];
    private IReadOnlyDictionary<string, string[]> _errors = new Dictionary<string, string[]>();
    private TaskView? _view;
    private Actor? _actor;
    private Outcome? _outcome;
    private bool _loaded;
    private bool _busy;
    private long _followAfter = -1;

    [Parameter]
    public string ResId { get; set; } = string.Empty;

    [Inject]
    private InboxQueries Inbox { get; set; } = default!;

    [Inject]
    private InboxEvents Events { get; set; } = default!;

    [Inject]
    private IServiceScopeFactory Scopes { get; set; } = default!;

    [Inject]
    private TimeProvider Clock { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState> AuthenticationState { get; set; } = default!;

    private DateTime Now => Clock.GetUtcNow().UtcDateTime;

    internal sealed record Outcome(Severity Severity, string Message);

    protected override async Task OnParametersSetAsync()
    {
        // The layout re-renders (live badge) and hands the page its parameters again: only a new task reloads it,
        // else an answer in flight, its outcome and its progress would be thrown away.
        if (_loaded && ResId == _view?.Task.ResId)
        {
            return;
        }

        _actor = Actor.From((await AuthenticationState).User);
        _view = _actor is null ? null : await Inbox.TaskAsync(_actor, ResId, CancellationToken.None);
        _outcome = _view is null || _actor is null ? null : Describe(_view.Task, _actor);
        _loaded = true;
    }

    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender)
        {
            Events.ExecutionEvent += OnExecutionEvent;
        }
    }

    /// <summary>What the page says about a task that cannot be answered here and now.</summary>
    internal static Outcome? Describe(TaskRecord task, Actor actor, bool assigneeChecked = true) => task.Status switch
    {
        TaskStatuses.Resolved => Already(task.ResolvedByName ?? task.ResolvedBy, task.ResolvedAt, task.Channel),
        TaskStatuses.Expired => new Outcome(Severity.Warning, $"This task expired at {task.ExpiresAt:u} before anyone answered it."),
        TaskStatuses.Cancelled => new Outcome(Severity.Info, "The run ended before this task was answered."),
        _ when assigneeChecked && !ResumePipeline.MayAnswer(task, actor) => new Outcome(Severity.Error, "This task is not yours: you are not one of its assignees."),
        _ => null,
    };

    /// <summary>What a person is told about the pipeline's answer (null for field errors, shown at the fields).</summary>
    internal static Outcome? Describe(ResumeOutcome outcome) => outcome switch
    {
        ResumeOutcome.Accepted => new Outcome(Severity.Info, "Resuming: your answer was accepted and the run continues."),
        ResumeOutcome.AlreadyResolved r => Already(r.ResolvedByName ?? r.ResolvedBy, r.ResolvedAt, r.Channel),
        ResumeOutcome.Gone g => new Outcome(Severity.Warning, g.ExpiredAt is { } at ? $"This task expired at {at:u}." : g.Reason),
        ResumeOutcome.Forbidden f => new Outcome(Severity.Error, "This task is not yours: " + f.Reason),
        ResumeOutcome.NotFound => new Outcome(Severity.Error, "This task no longer exists."),
        _ => null,
    };

    private static Outcome Already(string? who, DateTime? at, string? channel) =>
        new(Severity.Warning, $"{who} already answered this task at {at:u} via {channel}.");

    private async Task SubmitAsync(JsonObject body)
    {
        if (_actor is null || _view is null || _busy)
        {
            return;
        }

        _busy = true;
        _followAfter = _view.LastSequence;
        try
        {
            await using var scope = Scopes.CreateAsyncScope();
            var pipeline = scope.ServiceProvider.GetRequiredService<ResumePipeline>();
            var outcome = await pipeline.ResumeAsync(new ResumeCommand(ResId, _actor, Channel, body), CancellationToken.None);
            _errors = outcome is ResumeOutcome.Invalid invalid ? invalid.Errors : new Dictionary<string, string[]>();
            _outcome = Describe(outcome);
            if (outcome is ResumeOutcome.Accepted)
            {
                foreach (var e in await Inbox.EventsAsync(_actor, _view.Task.ExecutionId, _followAfter, CancellationToken.None))
                {
                    _progress[e.Sequence] = e;
                }
            }
        }
        finally
        {
            _busy = false;
        }
    }

    private void OnExecutionEvent(ExecutionEventMessage e)
    {
        if (_followAfter < 0 || _view is null || e.ExecutionId != _view.Task.ExecutionId || e.Sequence <= _followAfter)
        {
            return;
        }

        _ = InvokeAsync(() =>
        {
            _progress[e.Sequence] = e;
            StateHasChanged();
        });
    }

    private static string Describe(ExecutionEventMessage e) => e.Type switch
    {
        "resumed" => $"Resumed by {e.Data?["actorName"] ?? e.Data?["actor"]} via {e.Data?["channel"]}",
        "nodeStarted" => $"{e.NodeId} started",
        "nodeCompleted" => $"{e.NodeId} completed",
        "nodeFailed" => $"{e.NodeId} failed: {e.Data?["error"]}",
        "suspended" when e.NodeId is not null => $"Waiting: {e.Data?["title"]}",
        "suspended" => "Waiting for other answers",
        "completed" => "Run completed",
        "failed" => $"Run failed: {e.Data?["error"]}",
        _ => e.Type,
    };

    private static Color EventColor(string type) => type switch
    {
        "completed" or "nodeCompleted" => Color.Success,
        "failed" or "nodeFailed" => Color.Error,
        "suspended" => Color.Warning,
        _ => Color.Info,
    };

    public void Dispose() => Events.ExecutionEvent -= OnExecutionEvent;
}
