using ApprovalStudio.Web.Components.Shared;
using ApprovalStudio.Web.Features.Inbox;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Auth;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.JSInterop;
using MudBlazor;

namespace ApprovalStudio.Web.Components.Layout;

public sealed partial class MainLayout
{
    private static readonly MudTheme Theme = new()
    {
        PaletteLight = new PaletteLight { Primary = "#2f5bea", AppbarBackground = "#1f3b99" },
        PaletteDark = new PaletteDark { Primary = "#8aa8ff" },
    };

    private MudThemeProvider? _theme;
    private bool _dark;
    private Actor? _actor;

    [Inject]
    private InboxFeed Feed { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState>? AuthenticationState { get; set; }

    /// <summary>The person's light/dark choice from its cookie (none: follow the system).</summary>
    [CascadingParameter(Name = ThemeCookie.Name)]
    private string? ThemeChoice { get; set; }

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    protected override void OnInitialized() => _dark = ThemeCookie.IsDark(ThemeChoice) ?? false;

    public int PendingCount { get; private set; }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (!firstRender)
        {
            return;
        }

        if (_theme is not null && ThemeCookie.IsDark(ThemeChoice) is null)
        {
            _dark = await _theme.GetSystemDarkModeAsync();
        }

        if (AuthenticationState is not null)
        {
            _actor = Actor.From((await AuthenticationState).User);
        }

        Feed.Changed += OnFeed;
        if (_actor is not null)
        {
            PendingCount = await Feed.CountAsync(_actor, CancellationToken.None);
            StateHasChanged();
        }
    }

    /// <summary>The toggle: the choice is kept (a cookie), so a reload or another page keeps it.</summary>
    private async Task ToggleDarkAsync()
    {
        _dark = !_dark;
        await JS.InvokeVoidAsync("approvalStudio.setTheme", _dark ? ThemeCookie.Dark : ThemeCookie.Light);
    }

    /// <summary>The feed keeps the count: a batch that touches this person's tasks costs the badge no query.</summary>
    private void OnFeed(IReadOnlyList<InboxUpdate> updates)
    {
        if (_actor is { } actor && updates.Any(u => Answerers.May(actor, u.Change)))
        {
            _ = InvokeAsync(() =>
            {
                PendingCount = Feed.KnownCount(actor) ?? PendingCount;
                StateHasChanged();
            });
        }
    }

    public void Dispose() => Feed.Changed -= OnFeed;
}
