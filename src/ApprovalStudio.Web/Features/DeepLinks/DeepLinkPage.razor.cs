using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Inbox;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Components;

namespace ApprovalStudio.Web.Features.DeepLinks;

public sealed partial class DeepLinkPage
{
    private DeepLinkGrant? _grant;
    private TaskView? _view;
    private string? _refusal;
    private TaskPage.Outcome? _outcome;
    private IReadOnlyDictionary<string, string[]> _errors = new Dictionary<string, string[]>();
    private bool _loaded;
    private bool _busy;

    [Parameter]
    public string Token { get; set; } = string.Empty;

    [Inject]
    private DeepLinkTokens Tokens { get; set; } = default!;

    [Inject]
    private InboxQueries Inbox { get; set; } = default!;

    /// <summary>The one resume pipeline, with a scope (and DbContext) per call, not one for the circuit's lifetime.</summary>
    [Inject]
    private PerCall<ResumePipeline> Resume { get; set; } = default!;

    /// <summary>Set while the page is prerendered: a link that no longer reaches its recipient answers 403.</summary>
    [CascadingParameter]
    public HttpContext? HttpContext { get; set; }

    private Actor Recipient => new(_grant!.TenantId, _grant.UserId, _grant.Name, new HashSet<string>(), new HashSet<string>());

    // Opening a link decides nothing (mail scanners prefetch links): it only shows the task.
    protected override async Task OnParametersSetAsync()
    {
        (_grant, _refusal) = await Tokens.ReadAsync(Token);
        if (_grant is not null)
        {
            _view = await Inbox.TaskAsync(Recipient, _grant.ResId, CancellationToken.None);
            _refusal = _view is null ? "The task of this link no longer exists." : null;
            _outcome = _view is null ? null : TaskPage.Describe(_view.Task, Recipient, assigneeChecked: false) ?? TaskPage.YourVote(_view, _grant.UserId);
            if (_view is not null && _outcome is null)
            {
                // The link names its recipient; whether they may still answer is the pipeline's rule, with their groups of now.
                var task = _view.Task;
                var grant = new AnswerGrant.DeepLink(_grant.TenantId, _grant.UserId);
                var refusal = await Resume.RunAsync(pipeline => pipeline.RefusalAsync(task, grant, CancellationToken.None));
                if (refusal is not null)
                {
                    _outcome = TaskPage.Describe(new ResumeOutcome.Forbidden(refusal));
                    if (HttpContext is { Response.HasStarted: false })
                    {
                        HttpContext.Response.StatusCode = StatusCodes.Status403Forbidden;
                    }
                }
            }
        }

        _loaded = true;
    }

    private async Task SubmitAsync(JsonObject body)
    {
        if (_grant is null || _busy)
        {
            return;
        }

        _busy = true;
        try
        {
            var command = new ResumeCommand(_grant.ResId, new AnswerGrant.DeepLink(_grant.TenantId, _grant.UserId), _grant.Channel, body);
            var outcome = await Resume.RunAsync(pipeline => pipeline.ResumeAsync(command, CancellationToken.None));
            _errors = outcome is ResumeOutcome.Invalid invalid ? invalid.Errors : new Dictionary<string, string[]>();
            _outcome = TaskPage.Describe(outcome);
            if (outcome is ResumeOutcome.Voted or ResumeOutcome.AlreadyVoted)
            {
                // The votes panel shows this vote among the others.
                _view = await Inbox.TaskAsync(Recipient, _grant.ResId, CancellationToken.None) ?? _view;
            }
        }
        finally
        {
            _busy = false;
        }
    }
}
