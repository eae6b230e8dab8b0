using ApprovalStudio.Web.Components;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Infrastructure;
using MudBlazor.Services;

namespace ApprovalStudio.Web.Features.Inbox;

public static class InboxFeature
{
    /// <summary>The Blazor Server inbox (MudBlazor), its in-process notifications and queries.</summary>
    public static IHostApplicationBuilder AddInbox(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddCascadingAuthenticationState();
        builder.Services.AddMudServices();
        builder.Services.AddSingleton<InboxEvents>();
        var redis = builder.Configuration[AppOptions.RedisKey];
        if (string.IsNullOrWhiteSpace(redis))
        {
            builder.Services.AddSingleton<IExecutionObserver, LocalInboxBus>();
        }
        else
        {
            builder.Services.AddSingleton<StackExchange.Redis.IConnectionMultiplexer>(_ => StackExchange.Redis.ConnectionMultiplexer.Connect(redis));
            builder.Services.AddSingleton<RedisInboxBus>();
            builder.Services.AddSingleton<IExecutionObserver>(sp => sp.GetRequiredService<RedisInboxBus>());
            builder.Services.AddHostedService(sp => sp.GetRequiredService<RedisInboxBus>());
        }

        builder.Services.AddSingleton<InboxQueries>();
        return builder;
    }

    public static WebApplication MapInbox(this WebApplication app)
    {
        app.MapStaticAssets();
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        return app;
    }
}
