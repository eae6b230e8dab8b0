using Bunit;
using MudBlazor;
using MudBlazor.Services;

namespace ApprovalStudio.Web.Tests.Components;

/// <summary>
/// bunit with MudBlazor's services and a popover provider (selects need it). Disposed through
/// IAsyncLifetime: MudBlazor's services are only async-disposable (xunit v2 pitfall). Subclasses that
/// add services override <see cref="InitializeAsync"/> and add them before calling it.
/// </summary>
public abstract class MudTestContext : BunitContext, IAsyncLifetime
{
    protected MudTestContext()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
    }

    public virtual Task InitializeAsync()
    {
        Render<MudPopoverProvider>();
        return Task.CompletedTask;
    }

    Task IAsyncLifetime.DisposeAsync() => DisposeTestAsync();

    protected virtual async Task DisposeTestAsync() => await base.DisposeAsync();
}
