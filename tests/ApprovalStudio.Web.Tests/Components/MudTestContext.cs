using Bunit;
using MudBlazor;
using MudBlazor.Services;

namespace ApprovalStudio.Web.Tests.Components;

/// <summary>
/// bunit with MudBlazor's services, a desktop browser's width and a popover provider (selects need it). Disposed through
/// IAsyncLifetime: MudBlazor's services are only async-disposable (xunit v2 pitfall). Subclasses that
/// add services override <see cref="InitializeAsync"/> and add them before calling it.
/// </summary>
public abstract class MudTestContext : BunitContext, IAsyncLifetime
{
    protected MudTestContext()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
        BrowserWidth(1280);
    }

    /// <summary>The width MudBlazor's viewport service reads from the browser (a desktop's unless a test says otherwise).</summary>
    protected void BrowserWidth(int width) =>
        JSInterop.Setup<BrowserWindowSize>("mudResizeListener.getBrowserWindowSize").SetResult(new BrowserWindowSize { Width = width, Height = 800 });

    public virtual Task InitializeAsync()
    {
        Render<MudPopoverProvider>();
        return Task.CompletedTask;
    }

    Task IAsyncLifetime.DisposeAsync() => DisposeTestAsync();

    protected virtual async Task DisposeTestAsync() => await base.DisposeAsync();
}
