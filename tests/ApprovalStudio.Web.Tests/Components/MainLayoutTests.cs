using System.Security.Claims;
using ApprovalStudio.Web.Components.Layout;
using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Forms;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.JSInterop;

namespace ApprovalStudio.Web.Tests.Components;

/// <summary>The app bar's light/dark toggle: it shows the mode app.js applied, and a page that cannot say keeps working.</summary>
public sealed class MainLayoutTests : MudTestContext
{
    public MainLayoutTests()
    {
        Services.AddSingleton<AntiforgeryStateProvider>(new FixedAntiforgery());
        var auth = AddAuthorization();
        auth.SetAuthorized("zoe");
        auth.SetClaims([new Claim("sub", "zoe"), new Claim("tenant", AppHost.Tenant), new Claim("name", "Zoe")]);
        SetRendererInfo(new RendererInfo("Server", isInteractive: true));
        ComponentFactories.AddStub<PendingBadge>();
    }

    private sealed class FixedAntiforgery : AntiforgeryStateProvider
    {
        public override AntiforgeryRequestToken GetAntiforgeryToken() => new("the-token", "__RequestVerificationToken");
    }

    /// <summary>No popover provider from the base class: the layout needs none (the pages that show popovers have their own).</summary>
    public override Task InitializeAsync() => Task.CompletedTask;

    private IRenderedComponent<MainLayout> RenderLayout() =>
        Render<MainLayout>(p => p.Add(l => l.Body, (RenderFragment)(b => b.AddContent(0, "the page"))));

    [Fact]
    public void Without_a_choice_the_toggle_shows_the_mode_the_page_took_from_the_system()
    {
        JSInterop.Setup<bool?>("approvalStudio.isDark").SetResult(true);

        var layout = RenderLayout();

        layout.WaitForAssertion(() => Assert.NotNull(layout.Find("button[aria-label='Switch to light mode']")), TimeSpan.FromSeconds(5));
        Assert.Contains("the page", layout.Markup);
    }

    [Fact]
    public void The_sign_out_form_carries_the_antiforgery_token_of_the_page()
    {
        JSInterop.Setup<bool?>("approvalStudio.isDark").SetResult(false);

        var layout = RenderLayout();

        var field = layout.Find("form[action='/account/signout'] input[type=hidden]");
        Assert.Equal("__RequestVerificationToken", field.GetAttribute("name"));
        Assert.Equal("the-token", field.GetAttribute("value"));
    }

    [Fact]
    public void A_page_whose_script_cannot_say_its_mode_keeps_working_with_the_toggle_as_drawn()
    {
        // An app.js from before isDark (a cached one): the call fails; an exception here would end the circuit.
        var isDark = JSInterop.Setup<bool?>("approvalStudio.isDark");
        isDark.SetException(new JSException("approvalStudio.isDark is not a function"));

        var layout = RenderLayout();

        layout.WaitForAssertion(() => Assert.Single(isDark.Invocations), TimeSpan.FromSeconds(5));
        Assert.NotNull(layout.Find("button[aria-label='Switch to dark mode']"));
        Assert.Contains("the page", layout.Markup);
    }
}
