using System.Globalization;
using ApprovalStudio.Web.Components.Shared;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Auth;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.JSInterop;
using MudBlazor;
using MudBlazor.Services;

namespace ApprovalStudio.Web.Features.Inbox;

public sealed partial class InboxPage
{
    private static readonly int[] PageSizes = [25, 50, 100];

    private InboxFilter _filter = new();
    private IReadOnlyList<WorkflowChoice> _workflows = [];
    private IReadOnlyList<InboxRow> _rows = [];
    private IReadOnlySet<string> _voted = new HashSet<string>();
    private int _total;
    private int _page;
    private int _pageSize = PageSizes[0];
    private bool _loaded;
    private readonly HashSet<string> _newTasks = new(StringComparer.Ordinal);
    private Actor? _actor;
    private IDisposable? _subscription;

    /// <summary>While the list is read: the feed's batches that arrived meanwhile, applied to what the read returns.</summary>
    private List<InboxUpdate>? _heldWhileReading;
    private int _reads;
    private CancellationTokenSource? _reading;

    /// <summary>
    /// Whether the browser shows the phone's list (below MudBlazor's sm breakpoint, as the CSS decides): from the
    /// <c>narrow</c> cookie, then from the browser itself once the circuit is live; null while neither has said, when
    /// both layouts have their rows.
    /// </summary>
    private bool? _phone;
    private DotNetObjectReference<InboxPage>? _self;
    private int? _narrowWatch;
    private bool _disposed;

    [Inject]
    private InboxQueries Inbox { get; set; } = default!;

    [Inject]
    private InboxFeed Feed { get; set; } = default!;

    [Inject]
    private InboxRowCache RowCache { get; set; } = default!;

    [Inject]
    private TimeProvider Clock { get; set; } = default!;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState> AuthenticationState { get; set; } = default!;

    private BrowserClock BrowserTime => Choices?.Clock ?? BrowserClock.Utc;

    /// <summary>Whether the window was a phone's when the page was prerendered (its cookie); the page follows changes itself.</summary>
    [CascadingParameter]
    private BrowserChoices? Choices { get; set; }

    /// <summary>
    /// Carries the first page as the prerender read it into the live circuit, whose first render shows the same rows (no
    /// empty table while it reads again). Taken, not bound: a [PersistentState] property's subscription keeps the value it
    /// restored for the circuit's life — a second copy of the rows in every open inbox.
    /// </summary>
    [Inject]
    private PersistentComponentState ApplicationState { get; set; } = default!;

    private const string ShownKey = "inbox-shown";
    private PersistingComponentStateSubscription? _persisting;

    private DateTime Now => Clock.GetUtcNow().UtcDateTime;

    private bool Filtered =>
        !string.IsNullOrEmpty(_filter.Kind) || !string.IsNullOrEmpty(_filter.Workflow) || _filter.OverdueOnly || !string.IsNullOrWhiteSpace(_filter.Search);

    /// <summary>The first page, newest first, unfiltered: where a new task goes on top without reading the list again.</summary>
    private bool ShowsNewestFirst => !Filtered && _filter.Sort == InboxSort.Newest && _page == 0;

    private int LastPage => _total <= 0 ? 0 : (_total - 1) / _pageSize;

    protected override async Task OnInitializedAsync()
    {
        _phone = NarrowCookie.IsNarrow(Choices?.Narrow);
        _actor = Actor.From((await AuthenticationState).User);
        if (_actor is null)
        {
            return;
        }

        if (!RendererInfo.IsInteractive)
        {
            // The prerender: the rows are in the page's first HTML.
            _workflows = await Inbox.WorkflowChoicesAsync(_actor, CancellationToken.None);
            await ReadAsync();
            var shown = new InboxShown(_rows, _total, [.. _voted]);
            _persisting = ApplicationState.RegisterOnPersisting(
                () =>
                {
                    ApplicationState.PersistAsJson(ShownKey, shown);
                    return Task.CompletedTask;
                },
                RenderMode.InteractiveServer);
            return;
        }

        // Live: hear the feed before the list is read, so that no change falls between the read and the subscription —
        // one committed while the read runs is held and applied to what the read returns. The prerender's rows show
        // meanwhile; they are read again because a task may have been answered or made since.
        _subscription = Feed.Subscribe(_actor, OnFeed);
        if (ApplicationState.TryTakeFromJson<InboxShown>(ShownKey, out var prerendered) && prerendered is not null)
        {
            (_rows, _total, _loaded) = (RowCache.Shared(prerendered.Rows), prerendered.Total, true);
            _voted = prerendered.Voted?.ToHashSet(StringComparer.Ordinal) ?? new HashSet<string>();
        }

        _workflows = await Inbox.WorkflowChoicesAsync(_actor, CancellationToken.None);
        await ReadAsync();
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (firstRender && RendererInfo.IsInteractive)
        {
            // Told at once and again only when it changes (a phone turned, a window narrowed past MudBlazor's sm breakpoint).
            _self = DotNetObjectReference.Create(this);
            try
            {
                _narrowWatch = await JS.InvokeAsync<int?>("approvalStudio.watchNarrow", _self);
                if (_disposed && _narrowWatch is { } late)
                {
                    await JS.InvokeVoidAsync("approvalStudio.stopNarrow", late); // closed while the browser answered
                }
            }
            catch (JSException)
            {
                // A page from before app.js had the watcher (cached): the narrow cookie's layout stays, as in the prerender.
            }
        }
    }

    /// <summary>The browser's answer: whether the window is below 600 px, where the CSS shows the phone's list.</summary>
    [JSInvokable]
    public void OnNarrow(bool narrow)
    {
        if (narrow != _phone)
        {
            _phone = narrow;
            _ = InvokeAsync(StateHasChanged);
        }
    }

    /// <summary>
    /// Reads the page the person looks at (page, size, order and filters as they are now) and shows it. A read overtaken
    /// by a newer one (typed on, paged again) is cancelled and leaves the page alone.
    /// </summary>
    private Task ReadAsync() => ReadAsync(again: false);

    private async Task ReadAsync(bool again)
    {
        if (_actor is null)
        {
            return;
        }

        // Numbered before the previous read is cancelled: when that one wakes up, it finds itself overtaken and goes quietly.
        var read = ++_reads;
        var previous = _reading;
        var cancellation = _reading = new CancellationTokenSource();
        _heldWhileReading ??= [];
        if (previous is not null)
        {
            await previous.CancelAsync();
        }

        InboxSlice slice;
        try
        {
            // Unfiltered, the total is the badge's count, kept by the feed: no COUNT over every pending task per page view.
            int? total = Filtered ? null : await Feed.CountAsync(_actor, cancellation.Token);
            slice = await Inbox.ListAsync(_actor, _filter, _page, _pageSize, cancellation.Token, total);
        }
        catch when (read != _reads)
        {
            // Overtaken: cancelled, or failed on its way out; the newer read shows the page.
            return;
        }
        catch
        {
            _heldWhileReading = null;
            _reading = null;
            throw;
        }

        if (read != _reads)
        {
            return;
        }

        _reading = null;
        _rows = RowCache.Shared(slice.Rows);
        _voted = slice.Voted ?? new HashSet<string>();
        _total = slice.Total;
        _newTasks.Clear();
        _loaded = true;
        var held = _heldWhileReading ?? [];
        _heldWhileReading = null;
        var hadRows = _rows.Count > 0;
        var emptied = held.Count > 0 && Patch(held) && hadRows;

        if (again)
        {
            return;
        }

        if (_rows.Count == 0 && _page > 0)
        {
            // Past the end (tasks answered meanwhile): the last page there is.
            _page = LastPage;
            await ReadAsync(again: true);
        }
        else if (emptied)
        {
            // What arrived during the read emptied the page while others wait: read once more.
            await ReadAsync(again: true);
        }
    }

    private Task GoToAsync(int page)
    {
        _page = Math.Clamp(page, 0, LastPage);
        return ReadAsync();
    }

    private Task PageSizeChangedAsync(ChangeEventArgs change)
    {
        if (!int.TryParse(change.Value as string, out var size) || !PageSizes.Contains(size) || size == _pageSize)
        {
            return Task.CompletedTask;
        }

        // The first task shown stays on the page shown.
        _page = _page * _pageSize / size;
        _pageSize = size;
        return ReadAsync();
    }

    /// <summary>"26–50 of 20,000": the rows shown and how many there are.</summary>
    private string Range() =>
        _total == 0 || _rows.Count == 0
            ? "0 of 0"
            : string.Create(CultureInfo.CurrentCulture, $"{(_page * _pageSize) + 1:N0}–{(_page * _pageSize) + _rows.Count:N0} of {_total:N0}");

    private Task ReloadAsync() => ReadAsync();

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
        _page = 0;
        return ReadAsync();
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
        if (!_loaded || _heldWhileReading is not null)
        {
            // Not read yet, or being read: the read's result takes these when it comes.
            (_heldWhileReading ??= []).AddRange(updates);
            return Task.CompletedTask;
        }

        if (Patch(updates))
        {
            // The page emptied while others wait: the one read this needs.
            return ReadAsync();
        }

        StateHasChanged();
        return Task.CompletedTask;
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
                rows.Insert(0, RowCache.Shared(row));
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

    /// <summary>
    /// A row's cells after its icon (its list item's text on a phone) as one piece of markup, the same string for every open
    /// inbox while the row, the minute and the reader's zone stay the same (InboxRowCache). Every open inbox keeps its page's
    /// render tree twice (the last one, for the next diff): cells written as elements cost some forty frames and a handful of
    /// strings a row in each; this costs one frame, and the icon is a string shared by every row (InboxRowMarkup.Icon). The
    /// rows hold no handlers (their links navigate), so nothing is lost.
    /// </summary>
    private MarkupString Cells(InboxRow row, bool compact) => RowCache.Cells(row, compact, Now, BrowserTime);

    /// <summary>An approval the viewer has voted on (issue 15): marked, beside the shared row, as waiting for the others.</summary>
    private MarkupString Voted(InboxRow row) => row.Voting && _voted.Contains(row.ResId) ? InboxRowMarkup.Voted : default;

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        _subscription?.Dispose();
        _persisting?.Dispose();
        _reading?.Cancel();
        if (_narrowWatch is { } watch)
        {
            try
            {
                await JS.InvokeVoidAsync("approvalStudio.stopNarrow", watch);
            }
            catch (JSDisconnectedException)
            {
                // The browser has gone; its listener with it.
            }
        }

        _self?.Dispose();
    }
}

/// <summary>What the prerendered inbox showed: its rows and how many there are.</summary>
public sealed record InboxShown(IReadOnlyList<InboxRow> Rows, int Total, IReadOnlyCollection<string>? Voted = null);
