using ApprovalStudio.Web.Components;
using MudBlazor.Services;

namespace ApprovalStudio.Web.Features.Inbox;

public static class InboxFeature
{
    /// <summary>The Blazor Server inbox (MudBlazor), its queries, and the feed its open pages hear changes from.</summary>
    public static IHostApplicationBuilder AddInbox(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddCascadingAuthenticationState();
        builder.Services.AddMudServices();
        builder.Services.AddSingleton<ApprovalStudio.Web.Components.Shared.ThemeStyles>();
        builder.Services.AddSingleton<InboxQueries>();
        builder.Services.AddSingleton<InboxFeed>();
        builder.Services.AddSingleton<InboxRowCache>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<InboxFeed>());
        return builder;
    }

    public static WebApplication MapInbox(this WebApplication app)
    {
        app.MapStaticAssets();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }
}
