using ApprovalStudio.Web.Components.Shared;
using ApprovalStudio.Web.Infrastructure.Auth;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Forms;
using Microsoft.JSInterop;

namespace ApprovalStudio.Web.Components.Layout;

public sealed partial class MainLayout
{
    /// <summary>
    /// Whether the page shows the dark theme, for the toggle's icon and label (the colours are app.js's and the CSS's). Read
    /// at the first render and at each toggle: a system change while the page is open shows at once, the label at the next click.
    /// </summary>
    private bool _dark;
    private bool _signedIn;
    private bool _admin;
    private string? _name;
    private AntiforgeryRequestToken? _antiforgery;

    [CascadingParameter]
    private Task<AuthenticationState>? AuthenticationState { get; set; }

    /// <summary>The person's light/dark choice from its cookie (none: follow the system).</summary>
    [CascadingParameter]
    private BrowserChoices? Choices { get; set; }

    private string? ThemeChoice => Choices?.Theme;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    [Inject]
    private AntiforgeryStateProvider Antiforgery { get; set; } = default!;

    /// <summary>
    /// The sign-out form's token read here, as the AntiforgeryToken component reads it (prerendered, then kept for the
    /// circuit), rather than by that component: one component fewer kept by every open page.
    /// </summary>
    protected override void OnInitialized()
    {
        _dark = ThemeCookie.IsDark(ThemeChoice) ?? false;
        _antiforgery = Antiforgery.GetAntiforgeryToken();
    }

    /// <summary>Who is signed in, for the app bar: what AuthorizeView (one per piece) read before.</summary>
    protected override async Task OnParametersSetAsync()
    {
        var user = AuthenticationState is null ? null : (await AuthenticationState).User;
        _signedIn = user?.Identity?.IsAuthenticated == true;
        _admin = _signedIn && Actor.From(user!)?.IsAdmin == true;
        _name = user?.FindFirst(ActorClaims.Name)?.Value;
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (!firstRender)
        {
            return;
        }

        if (ThemeCookie.IsDark(ThemeChoice) is null && await SystemDarkAsync() is { } dark && dark != _dark)
        {
            // No choice made: the system's, which app.js applied. A render of its own — nothing else re-renders the layout (the badge is its own component).
            _dark = dark;
            StateHasChanged();
        }
    }

    /// <summary>Whether app.js showed the dark theme (the system's preference); null when the page cannot say (an app.js from before).</summary>
    private async Task<bool?> SystemDarkAsync()
    {
        try
        {
            return await JS.InvokeAsync<bool?>("approvalStudio.isDark");
        }
        catch (JSException)
        {
            return null; // the toggle's icon stays as the prerender drew it; an exception here would end the page's circuit
        }
    }

    /// <summary>
    /// The toggle: the choice is kept (a cookie), so a reload or another page keeps it. The cookie is written first, so
    /// that once the page shows the new mode, a reload straight after shows it too.
    /// </summary>
    private async Task ToggleDarkAsync()
    {
        // The mode the page shows now: without a choice, app.js follows the system live, and it may have changed since.
        var dark = !(await SystemDarkAsync() ?? _dark);
        await JS.InvokeVoidAsync("approvalStudio.setTheme", dark ? ThemeCookie.Dark : ThemeCookie.Light);
        _dark = dark;
    }
}
