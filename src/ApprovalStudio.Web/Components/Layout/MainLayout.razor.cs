using ApprovalStudio.Web.Components.Shared;
using ApprovalStudio.Web.Features.Executions;
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
    private InboxQueries Inbox { get; set; } = default!;

    [Inject]
    private ExecutionEvents Events { get; set; } = default!;

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

        Events.TaskChanged += OnTaskChanged;
        await RefreshCountAsync();
    }

    /// <summary>The toggle: the choice is kept (a cookie), so a reload or another page keeps it.</summary>
    private async Task ToggleDarkAsync()
    {
        _dark = !_dark;
        await JS.InvokeVoidAsync("approvalStudio.setTheme", _dark ? ThemeCookie.Dark : ThemeCookie.Light);
    }

    public async Task RefreshCountAsync()
    {
        if (_actor is not null)
        {
            PendingCount = await Inbox.CountPendingAsync(_actor, CancellationToken.None);
        }

        await InvokeAsync(StateHasChanged);
    }

    private void OnTaskChanged(TaskChange change)
    {
        if (_actor is not null && Answerers.May(_actor, change))
        {
            _ = RefreshCountAsync();
        }
    }

    public void Dispose() => Events.TaskChanged -= OnTaskChanged;
}
