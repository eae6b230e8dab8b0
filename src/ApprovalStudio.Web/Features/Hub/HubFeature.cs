namespace ApprovalStudio.Web.Features.Hub;

public static class HubFeature
{
    public const string RedisKey = "Redis:Configuration";

    /// <summary>SignalR, with the Redis backplane when <c>Redis:Configuration</c> is set.</summary>
    public static IHostApplicationBuilder AddExecutionHub(this IHostApplicationBuilder builder)
    {
        var signalR = builder.Services.AddSignalR();
        var redis = builder.Configuration[RedisKey];
        if (!string.IsNullOrWhiteSpace(redis))
        {
            signalR.AddStackExchangeRedis(redis, o => o.Configuration.ChannelPrefix = StackExchange.Redis.RedisChannel.Literal("approval-studio"));
        }

        builder.Services.AddScoped<ExecutionEventReader>();
        builder.Services.AddSingleton<ExecutionNotifier>();
        return builder;
    }

    public static IEndpointRouteBuilder MapExecutionHub(this IEndpointRouteBuilder app)
    {
        app.MapHub<ExecutionHub>(ExecutionHub.Path);
        return app;
    }
}
