using ApprovalStudio.Web.Components.Shared;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace ApprovalStudio.Web.Features.Inbox;

public sealed partial class InboxToolbar
{
    private static readonly string[] Kinds = ["Approval", "UserForm", "Review", "Wait", "ToolCall"];

    /// <summary>How long the search waits after the last keystroke before it reads (as MudTextField's DebounceInterval did).</summary>
    public static readonly TimeSpan SearchDebounce = TimeSpan.FromMilliseconds(300);

    private const string SearchBoxClass = "mud-input mud-input-text mud-input-text-with-label mud-input-adorned-start mud-input-underline mud-shrink mud-typography-subtitle1 mud-input-sizing-fixed";
    private const string SearchLabelClass = "mud-input-label mud-input-label-animated mud-input-label-text mud-input-label-inputcontrol";

    private string? _search;
    private string? _sentSearch;
    private CancellationTokenSource? _debounce;
    private ElementReference _searchInput;
    private bool _filtersOpen;
    private bool _changed = true;
    private InboxFilter? _renderedFilter;
    private IReadOnlyList<WorkflowChoice>? _renderedWorkflows;

    [Parameter, EditorRequired]
    public InboxFilter Filter { get; set; } = new();

    /// <summary>A filter the person chose (the list starts again at its first page).</summary>
    [Parameter]
    public EventCallback<InboxFilter> FilterChanged { get; set; }

    [Parameter]
    public IReadOnlyList<WorkflowChoice> Workflows { get; set; } = [];

    /// <summary>The prerendered page's controls do nothing until the circuit is live.</summary>
    private bool Inert => !RendererInfo.IsInteractive;

    /// <summary>How many filters narrow the list (the search counts apart: it stays in view on a phone).</summary>
    private int ActiveFilters =>
        (string.IsNullOrEmpty(Filter.Kind) ? 0 : 1) + (string.IsNullOrEmpty(Filter.Workflow) ? 0 : 1) + (Filter.OverdueOnly ? 1 : 0);

    protected override void OnParametersSet()
    {
        if (Filter.Search != _sentSearch)
        {
            // Changed by the page ("Clear filters" empties the field too); not the search this toolbar sent, which the
            // person may have typed on from while the list loaded. A search still waiting to go out would undo it.
            _debounce?.Cancel();
            _search = _sentSearch = Filter.Search;
        }
    }

    protected override bool ShouldRender() =>
        _changed || !ReferenceEquals(Filter, _renderedFilter) || !ReferenceEquals(Workflows, _renderedWorkflows);

    protected override void OnAfterRender(bool firstRender)
    {
        _changed = false;
        _renderedFilter = Filter;
        _renderedWorkflows = Workflows;
    }

    private Task SearchChanged(string? search)
    {
        _sentSearch = search;
        return Change(Filter with { Search = search });
    }

    /// <summary>A keystroke: the search goes out once the person has stopped typing for <see cref="SearchDebounce"/>.</summary>
    private void Typed()
    {
        _changed = true; // the clear button comes and goes with the text
        _debounce?.Cancel();
        _debounce?.Dispose();
        var pending = _debounce = new CancellationTokenSource();
        var search = string.IsNullOrEmpty(_search) ? null : _search;
        _ = SearchLaterAsync(search, pending.Token);
    }

    private async Task SearchLaterAsync(string? search, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(SearchDebounce, cancellationToken);
            // Checked again on the renderer's turn: a keystroke or a clear handled just before it wins over this search.
            await InvokeAsync(() => cancellationToken.IsCancellationRequested ? Task.CompletedTask : SearchChanged(search));
        }
        catch (OperationCanceledException)
        {
            // Typed on, cleared, or the page closed: a later search (or none) replaces this one.
        }
        catch (Exception ex)
        {
            await DispatchExceptionAsync(ex);
        }
    }

    private async Task ClearSearchAsync()
    {
        _debounce?.Cancel();
        _search = null;
        await SearchChanged(null);
        try
        {
            await _searchInput.FocusAsync(); // the button goes with the text: the field keeps the keyboard, as MudTextField's did
        }
        catch (Microsoft.JSInterop.JSException)
        {
            // The field is gone (the page changed meanwhile): nothing to focus.
        }
    }

    public void Dispose()
    {
        _debounce?.Cancel();
        _debounce?.Dispose();
    }

    private Task Change(InboxFilter filter)
    {
        _changed = true;
        return FilterChanged.InvokeAsync(filter);
    }

    private void ToggleFilters()
    {
        _filtersOpen = !_filtersOpen;
        _changed = true;
    }

    /// <summary>The option chosen in a filter's select; its first option ("Any …") is none.</summary>
    private static string? Chosen(ChangeEventArgs change) => change.Value as string is { Length: > 0 } value ? value : null;
}
