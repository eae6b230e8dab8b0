using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Infrastructure;
using ApprovalStudio.Web.Infrastructure.Security;
using Microsoft.Extensions.FileProviders;

namespace ApprovalStudio.Web.Features.Hub;

public static class HubFeature
{
    /// <summary>SignalR, with the Redis backplane when <c>Redis:Configuration</c> is set.</summary>
    public static IHostApplicationBuilder AddExecutionHub(this IHostApplicationBuilder builder)
    {
        var signalR = builder.Services.AddSignalR();
        var redis = builder.Configuration[AppOptions.RedisKey];
        if (!string.IsNullOrWhiteSpace(redis))
        {
            signalR.AddStackExchangeRedis(redis, o => o.Configuration.ChannelPrefix = StackExchange.Redis.RedisChannel.Literal("approval-studio"));
        }

        builder.Services.AddSingleton<IExecutionObserver, HubPublisher>();
        return builder;
    }

    /// <summary>The browser client (<c>/assets/approval-studio.js</c>) and its SignalR library, from wwwroot-assets.</summary>
    public static IApplicationBuilder UseClientAssets(this IApplicationBuilder app) =>
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = new PhysicalFileProvider(Path.Combine(AppContext.BaseDirectory, "wwwroot-assets")),
            RequestPath = "/assets",
        });

    public static IEndpointRouteBuilder MapExecutionHub(this IEndpointRouteBuilder app)
    {
        app.MapHub<ExecutionHub>(ExecutionHub.Path).RequireRateLimiting(RateLimits.Api);
        return app;
    }
}
