using ApprovalStudio.Web.Components.Shared;
using ApprovalStudio.Web.Infrastructure.Auth;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using MudBlazor;

namespace ApprovalStudio.Web.Features.Inbox;

public sealed partial class HistoryPage
{
    private static readonly Dictionary<string, object> AnsweredTasksTable = new() { ["aria-label"] = "Answered tasks" };

    private MudTable<HistoryRow>? _table;
    private HistoryFilter _filter = new();
    private string? _search;
    private DateTime? _from;
    private DateTime? _to;
    private int _total;
    private bool _loaded;
    private Actor? _actor;

    [Inject]
    private InboxQueries Inbox { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState> AuthenticationState { get; set; } = default!;

    [CascadingParameter]
    private BrowserChoices? Browser { get; set; }

    private BrowserClock? Clock => Browser?.Clock;

    private bool Filtered => !_filter.IsEmpty;

    protected override async Task OnInitializedAsync() => _actor = Actor.From((await AuthenticationState).User);

    private async Task<TableData<HistoryRow>> LoadAsync(TableState state, CancellationToken cancellationToken)
    {
        if (_actor is null)
        {
            return new TableData<HistoryRow> { Items = [], TotalItems = 0 };
        }

        var page = await Inbox.HistoryAsync(_actor, _filter, state.Page, state.PageSize, cancellationToken);
        _total = page.Total;
        _loaded = true;
        StateHasChanged();
        return new TableData<HistoryRow> { Items = page.Rows, TotalItems = page.Total };
    }

    private Task SearchChanged(string? search) => Apply(_filter with { Search = search });

    private Task FromChanged(DateTime? from)
    {
        _from = from?.Date;
        return Apply(_filter with { From = StartOfDay(_from) });
    }

    private Task ToChanged(DateTime? to)
    {
        _to = to?.Date;
        return Apply(_filter with { To = StartOfDay(_to?.AddDays(1)) });
    }

    private Task ClearFiltersAsync()
    {
        _search = null;
        _from = null;
        _to = null;
        return Apply(new HistoryFilter());
    }

    private Task Apply(HistoryFilter filter)
    {
        if (filter == _filter)
        {
            return Task.CompletedTask;
        }

        _filter = filter;
        return _table.RestartAsync();
    }

    /// <summary>The UTC instant a day begins where the viewer is (the picked dates are the viewer's days).</summary>
    private DateTime? StartOfDay(DateTime? day)
    {
        if (day is not { } date)
        {
            return null;
        }

        var zone = (Clock ?? BrowserClock.Utc).Zone;
        var local = DateTime.SpecifyKind(date.Date, DateTimeKind.Unspecified);
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(30); // a day that begins in a daylight-saving gap starts when the clocks do
        }

        return TimeZoneInfo.ConvertTimeToUtc(local, zone);
    }
}
