using ApprovalStudio.Web.Components.Layout;
using ApprovalStudio.Web.Infrastructure.Auth;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using MudBlazor;

namespace ApprovalStudio.Web.Features.Inbox;

public sealed partial class InboxPage
{
    private static readonly string[] Kinds = ["Approval", "UserForm", "Review", "Wait", "ToolCall"];

    private InboxFilter _filter = new();
    private string? _search;
    private MudTable<InboxRow>? _table;
    private IReadOnlyList<string> _workflows = [];
    private Actor? _actor;

    [Inject]
    private InboxQueries Inbox { get; set; } = default!;

    [Inject]
    private InboxEvents Events { get; set; } = default!;

    [Inject]
    private TimeProvider Clock { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState> AuthenticationState { get; set; } = default!;

    [CascadingParameter]
    private MainLayout? Layout { get; set; }

    private DateTime Now => Clock.GetUtcNow().UtcDateTime;

    protected override async Task OnInitializedAsync()
    {
        _actor = Actor.From((await AuthenticationState).User);
        if (_actor is not null)
        {
            _workflows = await Inbox.WorkflowKeysAsync(_actor, CancellationToken.None);
        }
    }

    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender)
        {
            Events.TaskChanged += OnTaskChanged;
        }
    }

    private async Task<TableData<InboxRow>> LoadAsync(TableState state, CancellationToken cancellationToken)
    {
        if (_actor is null)
        {
            return new TableData<InboxRow> { Items = [], TotalItems = 0 };
        }

        var page = await Inbox.ListAsync(_actor, _filter, state.Page, state.PageSize, cancellationToken);
        return new TableData<InboxRow> { Items = page.Rows, TotalItems = page.Total };
    }

    private Task ReloadAsync() => _table?.ReloadServerData() ?? Task.CompletedTask;

    private Task SearchChanged(string? search) => Apply(_filter with { Search = search });

    private Task KindChanged(string? kind) => Apply(_filter with { Kind = kind });

    private Task WorkflowChanged(string? workflow) => Apply(_filter with { Workflow = workflow });

    private Task SortChanged(InboxSort sort) => Apply(_filter with { Sort = sort });

    private Task OverdueChanged(bool overdue) => Apply(_filter with { OverdueOnly = overdue });

    private Task Apply(InboxFilter filter)
    {
        _filter = filter;
        return ReloadAsync();
    }

    private void OnTaskChanged(InboxChange change)
    {
        if (_actor is not null && change.IsFor(_actor))
        {
            _ = InvokeAsync(ReloadAsync);
        }
    }

    private static string KindIcon(string kind) => kind switch
    {
        "Approval" => Icons.Material.Filled.HowToVote,
        "UserForm" => Icons.Material.Filled.EditNote,
        "Review" => Icons.Material.Filled.Visibility,
        "ToolCall" => Icons.Material.Filled.Build,
        _ => Icons.Material.Filled.HourglassTop,
    };

    public void Dispose() => Events.TaskChanged -= OnTaskChanged;
}
