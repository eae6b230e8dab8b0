using ApprovalStudio.Web.Components.Shared;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Auth;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using MudBlazor;

namespace ApprovalStudio.Web.Features.Inbox;

public sealed partial class InboxPage
{
    private static readonly Dictionary<string, object> PendingTasksTable = new() { ["aria-label"] = "Pending tasks" };

    private InboxFilter _filter = new();
    private MudTable<InboxRow>? _table;
    private IReadOnlyList<WorkflowChoice> _workflows = [];
    private IReadOnlyList<InboxRow> _rows = [];
    private int _total;
    private int _page;
    private int _pageSize;
    private bool _loaded;
    private bool _serveKept;
    private readonly HashSet<string> _newTasks = new(StringComparer.Ordinal);
    private Actor? _actor;
    private IDisposable? _subscription;

    /// <summary>While the list is read: the feed's batches that arrived meanwhile, applied to what the read returns.</summary>
    private List<InboxUpdate>? _heldWhileReading;
    private int _reads;

    [Inject]
    private InboxQueries Inbox { get; set; } = default!;

    [Inject]
    private InboxFeed Feed { get; set; } = default!;

    [Inject]
    private TimeProvider Clock { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState> AuthenticationState { get; set; } = default!;

    private DateTime Now => Clock.GetUtcNow().UtcDateTime;

    private bool Filtered =>
        !string.IsNullOrEmpty(_filter.Kind) || !string.IsNullOrEmpty(_filter.Workflow) || _filter.OverdueOnly || !string.IsNullOrWhiteSpace(_filter.Search);

    /// <summary>The first page, newest first, unfiltered: where a new task goes on top without reading the list again.</summary>
    private bool ShowsNewestFirst => !Filtered && _filter.Sort == InboxSort.Newest && _page == 0;

    protected override async Task OnInitializedAsync()
    {
        _actor = Actor.From((await AuthenticationState).User);
        if (_actor is null)
        {
            return;
        }

        // Live (not the prerender): hear the feed before the list is first read, so that no change falls between the read
        // and the subscription — one committed while the read runs is held and applied to what the read returns.
        if (RendererInfo.IsInteractive)
        {
            _subscription = Feed.Subscribe(_actor, OnFeed);
        }

        _workflows = await Inbox.WorkflowChoicesAsync(_actor, CancellationToken.None);
    }

    private async Task<TableData<InboxRow>> LoadAsync(TableState state, CancellationToken cancellationToken)
    {
        if (_serveKept && state.Page == _page && state.PageSize == _pageSize)
        {
            // The rows as the feed's last batch patched them: nothing to read.
            _serveKept = false;
            return new TableData<InboxRow> { Items = _rows, TotalItems = _total };
        }

        if (_actor is null)
        {
            return new TableData<InboxRow> { Items = [], TotalItems = 0 };
        }

        // Each read is numbered: one overtaken by a newer read (a filter typed on, a page changed) leaves the page alone.
        var read = ++_reads;
        _heldWhileReading ??= [];
        InboxSlice page;
        try
        {
            // Unfiltered, the total is the badge's count, kept by the feed: no COUNT over every pending task per page view.
            int? total = Filtered ? null : await Feed.CountAsync(_actor, cancellationToken);
            page = await Inbox.ListAsync(_actor, _filter, state.Page, state.PageSize, cancellationToken, total);
        }
        catch when (read == _reads)
        {
            _heldWhileReading = null;
            throw;
        }

        if (read != _reads)
        {
            return new TableData<InboxRow> { Items = page.Rows, TotalItems = page.Total };
        }

        // The phone's compact list and the empty states are the page's own: show what the table just loaded.
        _rows = page.Rows;
        _total = page.Total;
        _page = state.Page;
        _pageSize = state.PageSize;
        _newTasks.Clear();
        _loaded = true;
        var held = _heldWhileReading ?? [];
        _heldWhileReading = null;
        if (held.Count > 0 && Patch(held))
        {
            // What arrived during the read emptied the page while others wait: read once more.
            _ = InvokeAsync(ReloadAsync);
        }

        StateHasChanged();
        return new TableData<InboxRow> { Items = _rows, TotalItems = _total };
    }

    private Task ReloadAsync() => _table?.ReloadServerData() ?? Task.CompletedTask;

    /// <summary>Search and every filter back to nothing (the sort order stays as chosen).</summary>
    private Task ClearFiltersAsync() => Apply(new InboxFilter(Sort: _filter.Sort));

    /// <summary>A changed filter starts again at the first page.</summary>
    private Task Apply(InboxFilter filter)
    {
        if (filter == _filter)
        {
            return Task.CompletedTask;
        }

        _filter = filter;
        _serveKept = false;
        return _table.RestartAsync();
    }

    private string Describe()
    {
        var parts = new List<string>();
        if (!string.IsNullOrWhiteSpace(_filter.Search))
        {
            parts.Add($"“{_filter.Search.Trim()}”");
        }

        if (!string.IsNullOrEmpty(_filter.Kind))
        {
            parts.Add($"kind {KindNames.Of(_filter.Kind)}");
        }

        if (!string.IsNullOrEmpty(_filter.Workflow))
        {
            parts.Add($"workflow {WorkflowName(_filter.Workflow)}");
        }

        if (_filter.OverdueOnly)
        {
            parts.Add("overdue only");
        }

        return parts.Count switch
        {
            0 => "these filters",
            1 => parts[0],
            _ => string.Join(", ", parts[..^1]) + " and " + parts[^1],
        };
    }

    internal static string? KindName(string? kind) => kind is null ? null : KindNames.Of(kind);

    private string? WorkflowName(string? key) => key is null ? null : _workflows.FirstOrDefault(w => w.Key == key)?.Name ?? key;

    private void OnFeed(IReadOnlyList<InboxUpdate> updates) => _ = InvokeAsync(() => PatchAsync(updates));

    /// <summary>
    /// A batch of changes to this person's tasks, applied to what the page shows without reading the list again: an
    /// answered task leaves its row; a new one goes on top of the first page, newest first, unfiltered — elsewhere (another
    /// page, order or filter, where it may or may not belong) the page says how many arrived and reads them on request.
    /// </summary>
    private Task PatchAsync(IReadOnlyList<InboxUpdate> updates)
    {
        if (!_loaded || _heldWhileReading is not null || _table is null)
        {
            // Not read yet, or being read: the read's result takes these when it comes.
            (_heldWhileReading ??= []).AddRange(updates);
            return Task.CompletedTask;
        }

        if (Patch(updates))
        {
            // The page emptied while others wait: the one read this needs.
            _serveKept = false;
            return ReloadAsync();
        }

        _serveKept = true;
        StateHasChanged();
        return _table.ReloadServerData();
    }

    /// <summary>Applies the feed's changes to the rows and total shown; true when the page emptied while others wait.</summary>
    private bool Patch(IReadOnlyList<InboxUpdate> updates)
    {
        var rows = _rows.ToList();
        var total = _total;
        foreach (var update in updates)
        {
            if (update.Created && rows.Any(r => r.ResId == update.ResId))
            {
                // Read with the list already: the change was on its way while the page loaded.
            }
            else if (update.Created && update.Row is { } row && ShowsNewestFirst)
            {
                rows.Insert(0, row);
            }
            else if (update.Created)
            {
                _newTasks.Add(update.ResId);
            }
            else if (rows.RemoveAll(r => r.ResId == update.ResId) > 0)
            {
                total--;
            }
            else
            {
                _newTasks.Remove(update.ResId);
            }
        }

        if (rows.Count > _pageSize)
        {
            rows.RemoveRange(_pageSize, rows.Count - _pageSize);
        }

        // Unfiltered, every task the person may answer counts: the feed has the figure.
        total = Filtered ? Math.Max(total, rows.Count) : Feed.KnownCount(_actor!) ?? total;
        _rows = rows;
        _total = total;
        return rows.Count == 0 && total > 0;
    }

    /// <summary>The new tasks the page has announced: read the list again (the same page, order and filters).</summary>
    private Task ShowNewTasksAsync() => ReloadAsync();

    private static string KindIcon(string kind) => kind switch
    {
        "Approval" => Icons.Material.Filled.HowToVote,
        "UserForm" => Icons.Material.Filled.EditNote,
        "Review" => Icons.Material.Filled.Visibility,
        "ToolCall" => Icons.Material.Filled.Build,
        _ => Icons.Material.Filled.HourglassTop,
    };

    public void Dispose() => _subscription?.Dispose();
}
