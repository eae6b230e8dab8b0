using ApprovalStudio.Web.Components.Shared;
using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;

namespace ApprovalStudio.Web.Components;

public sealed partial class Routes
{
    private BrowserChoices _browser = BrowserChoices.None;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    /// <summary>The browser's IANA time zone from its <c>tz</c> cookie (App reads it while prerendering).</summary>
    [Parameter]
    public string? TimeZone { get; set; }

    /// <summary>The theme the person chose (<c>dark</c>/<c>light</c>; none = the system's), from the <c>theme</c> cookie.</summary>
    [Parameter]
    public string? Theme { get; set; }

    /// <summary>Whether the window is a phone's (<c>1</c>/<c>0</c>; none = not known yet), from the <c>narrow</c> cookie.</summary>
    [Parameter]
    public string? Narrow { get; set; }

    /// <summary>Once: a root component's parameters are the prerender's cookies (a new record would render every page and time on the screen again).</summary>
    protected override void OnInitialized() => _browser = new BrowserChoices(new BrowserClock(TimeZone), Theme, Narrow);

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        // No cookie yet (the first page ever opened): ask the browser once the circuit is up.
        if (firstRender && !_browser.Clock.Known && RendererInfo.IsInteractive)
        {
            try
            {
                var zone = await JS.InvokeAsync<string?>("approvalStudio.timeZone");
                var clock = new BrowserClock(zone);
                if (clock.Known)
                {
                    _browser = _browser with { Clock = clock };
                    StateHasChanged();
                }
            }
            catch (JSException)
            {
                // An old browser without Intl: times stay in UTC and say so.
            }
        }
    }
}
