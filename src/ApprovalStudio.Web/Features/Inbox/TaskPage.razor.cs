using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Workflows.Definitions;
using ApprovalStudio.Workflows.Resumption;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.JSInterop;
using MudBlazor;

namespace ApprovalStudio.Web.Features.Inbox;

/// <summary>
/// One task and the UI for its kind. Answers go through <see cref="ResumePipeline"/> exactly as the
/// API's do (same body, validation, codes and audit record; channel "inbox"). Once the task is answered —
/// here, in another tab, by someone else or through any channel — the page says so live (a receipt, or who
/// answered), drops the answer UI and the deadline, offers the next task, and after its own answer follows
/// the run in one status line until its next wait or end.
/// </summary>
public sealed partial class TaskPage
{
    public const string Channel = "inbox";

    private static readonly string[] ShortcutKeys = ["a", "r", "n", "?"];

    private readonly SortedDictionary<long, ExecutionEventMessage> _progress = [];
    private IReadOnlyDictionary<string, string[]> _errors = new Dictionary<string, string[]>();
    private TaskView? _view;
    private Actor? _actor;
    private Outcome? _refusal;
    private ApprovalAnswer? _approval;
    private DotNetObjectReference<TaskPage>? _self;
    private int? _shortcuts;
    private string? _next;
    private bool _loaded;
    private bool _busy;

    /// <summary>
    /// The answer's fields and buttons are disabled while an answer is on its way — and in the prerendered page, until the
    /// circuit is live: a click there would do nothing, and text typed there would be lost.
    /// </summary>
    private bool Inert => _busy || !RendererInfo.IsInteractive;
    private bool _dialogOpen;
    private long _followAfter = -1;

    [Parameter]
    public string ResId { get; set; } = string.Empty;

    [Inject]
    private InboxQueries Inbox { get; set; } = default!;

    [Inject]
    private ExecutionEvents Events { get; set; } = default!;

    /// <summary>The one resume pipeline, with a scope (and DbContext) per call, not one for the circuit's lifetime.</summary>
    [Inject]
    private PerCall<ResumePipeline> Resume { get; set; } = default!;

    [Inject]
    private TimeProvider Clock { get; set; } = default!;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState> AuthenticationState { get; set; } = default!;

    private DateTime Now => Clock.GetUtcNow().UtcDateTime;

    /// <summary>A line of the page about the task: its text, then a time shown in the viewer's zone, then the rest.</summary>
    public sealed record Outcome(Severity Severity, string Message, DateTime? At = null, string Suffix = "");

    /// <summary>Whether the person can still answer here: pending, theirs, not answered meanwhile.</summary>
    private bool Answerable => _view is { Task.Status: TaskStatuses.Pending } && _refusal is null;

    /// <summary>What replaces the answer UI: who answered (a receipt when it was the viewer), or why it cannot be answered.</summary>
    private Outcome? Notice => _view is null || _actor is null ? null
        : _view.Task.Status == TaskStatuses.Resolved ? Receipt(_view, answeredHere: _followAfter >= 0)
        : _refusal;

    protected override async Task OnParametersSetAsync()
    {
        // The layout re-renders (live badge) and hands the page its parameters again: only a new task reloads it,
        // else an answer in flight, its outcome and its progress would be thrown away.
        if (_loaded && ResId == _view?.Task.ResId)
        {
            return;
        }

        _progress.Clear();
        _followAfter = -1;
        _errors = new Dictionary<string, string[]>();
        _actor = Actor.From((await AuthenticationState).User);
        await ReloadAsync();
        _loaded = true;
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (!firstRender)
        {
            return;
        }

        Events.ExecutionEvent += OnExecutionEvent;
        Events.TaskChanged += OnTaskChanged;
        _self = DotNetObjectReference.Create(this);
        try
        {
            _shortcuts = await JS.InvokeAsync<int>("approvalStudio.listenShortcuts", _self, ShortcutKeys);
        }
        catch (JSDisconnectedException)
        {
        }
    }

    private async Task ReloadAsync()
    {
        _view = _actor is null ? null : await Inbox.TaskAsync(_actor, ResId, CancellationToken.None);
        _refusal = _view is null || _actor is null ? null : Describe(_view.Task, _actor) ?? YourVote(_view, _actor.UserId);
        if (_refusal is null && _view is { Task.Status: TaskStatuses.Pending, Node: ApprovalNode } && _actor is not null)
        {
            // Separation of duties is the pipeline's rule: the page says so before anyone answers, as a deep link's page does.
            var (task, grant) = (_view.Task, new AnswerGrant.Assignee(_actor));
            if (await Resume.RunAsync(pipeline => pipeline.RefusalAsync(task, grant, CancellationToken.None)) is { } refusal)
            {
                _refusal = Describe(new ResumeOutcome.Forbidden(refusal));
            }
        }

        _next = _actor is null ? null : await Inbox.NextTaskAsync(_actor, ResId, CancellationToken.None);
    }

    /// <summary>What the page says about a task that cannot be answered here and now.</summary>
    internal static Outcome? Describe(TaskRecord task, Actor actor, bool assigneeChecked = true) => task.Status switch
    {
        TaskStatuses.Resolved => Already(task.ResolvedByName ?? task.ResolvedBy, task.ResolvedAt, task.Channel, TaskOutcomes.Decision(task)),
        TaskStatuses.Expired => new Outcome(Severity.Warning, "This task expired at ", task.ExpiresAt,
            Votes.Describe(task.TallyJson) is { } tally ? $" before its vote was settled ({tally})." : " before anyone answered it."),
        TaskStatuses.Cancelled => new Outcome(Severity.Info, "The run ended before this task was answered."),
        _ when assigneeChecked && !Answerers.May(actor, task) => new Outcome(Severity.Error, "This task is not yours: you are not one of its assignees."),
        _ => null,
    };

    /// <summary>What a person is told about the pipeline's answer (null for field errors, shown at the fields).</summary>
    internal static Outcome? Describe(ResumeOutcome outcome) => outcome switch
    {
        ResumeOutcome.Accepted => new Outcome(Severity.Info, "Resuming: your answer was accepted and the run continues."),
        ResumeOutcome.AlreadyResolved r => Already(r.ResolvedByName ?? r.ResolvedBy, r.ResolvedAt, r.Channel, r.Decision),
        ResumeOutcome.Gone g => g.ExpiredAt is { } at ? new Outcome(Severity.Warning, "This task expired at ", at, ".") : new Outcome(Severity.Warning, g.Reason),
        ResumeOutcome.Forbidden f => new Outcome(Severity.Error, "You may not answer this task: " + f.Reason),
        ResumeOutcome.NotFound => new Outcome(Severity.Error, "This task no longer exists."),
        ResumeOutcome.Conflict c => new Outcome(Severity.Warning, c.Reason),
        ResumeOutcome.Voted v => new Outcome(Severity.Success, $"Your vote counts: {v.Tally.Describe()}. The approval stays open until enough people vote."),
        ResumeOutcome.AlreadyVoted a => new Outcome(Severity.Warning, $"You already voted on this task ({TaskOutcomes.Did(a.Decision)} via {a.Channel} at ", a.At, "); a vote counts once."),
        _ => null,
    };

    /// <summary>
    /// An approval with a quorum that <paramref name="userId"/> has voted on and that is still open: their receipt, where
    /// the answer UI was (a vote counts once). Null when they have not voted.
    /// </summary>
    internal static Outcome? YourVote(TaskView view, string userId) =>
        view.Task.Status == TaskStatuses.Pending && view.Votes.FirstOrDefault(v => v.UserId == userId) is { } vote
            ? new Outcome(Severity.Success,
                $"You {TaskOutcomes.Did(vote.Decision)}{(string.IsNullOrWhiteSpace(vote.Comment) ? "" : $" · “{vote.Comment}”")} · ", vote.At,
                $" · {view.Tally?.Describe()}; the approval stays open until enough people vote.")
            : null;

    /// <summary>"Max already approved this task via slack at …" (for an approval, what it decided; else "answered").</summary>
    private static Outcome Already(string? who, DateTime? at, string? channel, string? decision) =>
        new(Severity.Warning, $"{who} already {TaskOutcomes.Did(decision)} this task via {channel} at ", at, ".");

    /// <summary>"You approved · “Looks right” · 14:02" in the tab that answered, else "Answered by Otto via api at 14:02".</summary>
    internal static Outcome Receipt(TaskView view, bool answeredHere)
    {
        var task = view.Task;
        if (!answeredHere)
        {
            return new Outcome(Severity.Info, $"{(view.Node is ApprovalNode ? TaskOutcomes.Verb(TaskOutcomes.Decision(task)) : "Answered")} by {view.AnsweredBy} via {task.Channel} at ", task.ResolvedAt);
        }

        var output = task.OutputJson is null ? null : JsonNode.Parse(task.OutputJson);
        var verb = view.Node switch
        {
            ApprovalNode => TaskOutcomes.Did(output?["decision"]?.ToString() ?? ApprovalDecisions.Approved),
            ReviewNode => "acknowledged",
            FormNode => "submitted",
            _ => "answered",
        };
        var comment = view.Node is ApprovalNode or ReviewNode && output?["comment"]?.ToString() is { Length: > 0 } c ? $" · “{c}”" : string.Empty;
        return new Outcome(Severity.Success, $"You {verb}{comment} · ", task.ResolvedAt);
    }

    private async Task SubmitAsync(JsonObject body)
    {
        if (_actor is null || _view is null || _busy)
        {
            return;
        }

        _busy = true;
        var followAfter = _view.LastSequence;
        try
        {
            var command = new ResumeCommand(ResId, new AnswerGrant.Assignee(_actor), Channel, body);
            var outcome = await Resume.RunAsync(pipeline => pipeline.ResumeAsync(command, CancellationToken.None));
            _errors = outcome is ResumeOutcome.Invalid invalid ? invalid.Errors : new Dictionary<string, string[]>();
            if (outcome is ResumeOutcome.Invalid)
            {
                return;
            }

            if (outcome is ResumeOutcome.Accepted)
            {
                _followAfter = followAfter;
            }

            await ReloadAsync();
            if (outcome is ResumeOutcome.Accepted && _view is not null)
            {
                foreach (var e in await Inbox.EventsAsync(_actor, _view.Task.ExecutionId, _followAfter, CancellationToken.None))
                {
                    _progress[e.Sequence] = e;
                }
            }
            else if (_view?.Task.Status == TaskStatuses.Pending)
            {
                // A vote that left the approval open has its receipt from the reload; any other outcome says itself.
                _refusal = outcome is ResumeOutcome.Voted or ResumeOutcome.AlreadyVoted ? _refusal ?? Describe(outcome) : Describe(outcome);
            }
        }
        finally
        {
            _busy = false;
        }
    }

    private void OnExecutionEvent(ExecutionEventMessage e)
    {
        if (e.Type == ExecutionEventTypes.Voted && _view is { Task.Status: TaskStatuses.Pending } && (string?)e.Data?["resId"] == _view.Task.ResId)
        {
            // Someone voted on this approval (here, elsewhere, through any channel): the tally and the votes change.
            _ = InvokeAsync(async () =>
            {
                if (!_busy)
                {
                    await ReloadAsync();
                    StateHasChanged();
                }
            });
            return;
        }

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

    /// <summary>This task answered elsewhere (another tab, the API, someone else), or the person's other tasks changed (the next one).</summary>
    private void OnTaskChanged(TaskChange change)
    {
        if (_view is null || _actor is null)
        {
            return;
        }

        var thisTask = change.Task.ResId == _view.Task.ResId && !change.Created;
        if (!thisTask && !Answerers.May(_actor, change))
        {
            return;
        }

        _ = InvokeAsync(async () =>
        {
            if (thisTask && !_busy && _view.Task.Status == TaskStatuses.Pending)
            {
                await ReloadAsync();
            }
            else if (_actor is not null)
            {
                _next = await Inbox.NextTaskAsync(_actor, ResId, CancellationToken.None);
            }

            StateHasChanged();
        });
    }

    /// <summary>The run after this answer, in one line that ends at its next wait or its end.</summary>
    private string ProgressLine => LastStep() switch
    {
        null => "Resuming…",
        { Type: "completed" } => "Run completed",
        { Type: "failed" } e => $"Run failed: {e.Data?["error"]}",
        { Type: "retried" } => "Running again: an operator retried the failed step",
        { Type: "suspended", NodeId: not null } e => $"Waiting: {e.Data?["title"] ?? _view?.Title(e.NodeId)}",
        { Type: "suspended" } => "Waiting for other answers",
        { Type: "nodeFailed" } e => $"{_view?.Title(e.NodeId)} failed: {e.Data?["error"]}",
        { Type: "nodeStarted" } e => $"Running: {_view?.Title(e.NodeId)}",
        { Type: "nodeCompleted" } e => $"Done: {_view?.Title(e.NodeId)}",
        _ => "Resuming…",
    };

    private string ProgressIcon => LastStep()?.Type switch
    {
        "completed" => Icons.Material.Filled.CheckCircle,
        "failed" => Icons.Material.Filled.Error,
        "suspended" => Icons.Material.Filled.HourglassTop,
        _ => Icons.Material.Filled.Autorenew,
    };

    private Color ProgressColor => LastStep()?.Type switch
    {
        "completed" => Color.Success,
        "failed" => Color.Error,
        "suspended" => Color.Warning,
        _ => Color.Info,
    };

    private ExecutionEventMessage? LastStep() =>
        _progress.Values.LastOrDefault(e => e.Type is "completed" or "failed" or "retried" or "suspended" or "nodeFailed" or "nodeStarted" or "nodeCompleted");

    [JSInvokable]
    public async Task OnShortcut(string key)
    {
        if (_view is null || _dialogOpen)
        {
            return;
        }

        switch (key)
        {
            case "a" or "r" when Answerable && _approval is not null:
                await _approval.DecideAsync(key == "a" ? ApprovalDecisions.Approved : ApprovalDecisions.Rejected);
                StateHasChanged();
                break;
            case "n":
                Navigation.NavigateTo(_next is null ? "/" : $"/tasks/{_next}");
                break;
            case "?":
                await ShowShortcutsAsync();
                break;
        }
    }

    private async Task ShowShortcutsAsync()
    {
        var parameters = new DialogParameters<ShortcutsDialog>
        {
            { d => d.CanDecide, Answerable && _view?.Node is ApprovalNode },
            { d => d.HasNext, _next is not null },
        };
        _dialogOpen = true;
        try
        {
            var dialog = await Dialogs.ShowAsync<ShortcutsDialog>("Keyboard shortcuts", parameters, new DialogOptions { CloseOnEscapeKey = true, MaxWidth = MaxWidth.ExtraSmall });
            await dialog.Result;
        }
        finally
        {
            _dialogOpen = false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Events.ExecutionEvent -= OnExecutionEvent;
        Events.TaskChanged -= OnTaskChanged;
        if (_shortcuts is { } id)
        {
            try
            {
                await JS.InvokeVoidAsync("approvalStudio.stopShortcuts", id);
            }
            catch (JSDisconnectedException)
            {
            }
        }

        _self?.Dispose();
    }
}
