using System.Text.Json;
using ApprovalStudio.Web.Infrastructure.Persistence;
using StackExchange.Redis;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>
/// Carries task changes and run events to <see cref="ExecutionEvents"/> on every instance: in-process on one machine;
/// over Redis pub/sub when <c>Redis:Configuration</c> is set, so a circuit or a waiting route on instance B hears what
/// the worker on instance A did (the SignalR backplane only reaches hub clients). An observer of <see cref="ExecutionNotifier"/>.
/// </summary>
public sealed class LocalExecutionEventBus(ExecutionEvents events) : IExecutionObserver
{
    public Task ExecutionEventsAsync(IReadOnlyList<ExecutionEventMessage> messages)
    {
        foreach (var message in messages)
        {
            events.Raise(message);
        }

        return Task.CompletedTask;
    }

    public Task TaskChangedAsync(TaskRecord task, bool created)
    {
        events.Raise(TaskChange.From(task, created));
        return Task.CompletedTask;
    }
}

/// <summary>Publishes to one Redis channel; every instance (this one too) raises what arrives on it locally.</summary>
public sealed class RedisExecutionEventBus(IConnectionMultiplexer redis, ExecutionEvents events, ILogger<RedisExecutionEventBus> log) : IExecutionObserver, IHostedService
{
    private static readonly RedisChannel Channel = RedisChannel.Literal("approval-studio:events");
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private sealed record Envelope(TaskChange? Change, ExecutionEventMessage? Event);

    public async Task ExecutionEventsAsync(IReadOnlyList<ExecutionEventMessage> messages)
    {
        foreach (var message in messages)
        {
            await PublishAsync(new Envelope(null, message));
        }
    }

    public Task TaskChangedAsync(TaskRecord task, bool created) => PublishAsync(new Envelope(TaskChange.From(task, created), null));

    public async Task StartAsync(CancellationToken cancellationToken) =>
        await redis.GetSubscriber().SubscribeAsync(Channel, (_, value) =>
        {
            var envelope = JsonSerializer.Deserialize<Envelope>(value.ToString(), JsonOptions);
            if (envelope?.Change is { } change)
            {
                events.Raise(change);
            }
            else if (envelope?.Event is { } e)
            {
                events.Raise(e);
            }
        });

    public Task StopAsync(CancellationToken cancellationToken) => redis.GetSubscriber().UnsubscribeAsync(Channel);

    private async Task PublishAsync(Envelope envelope)
    {
        try
        {
            await redis.GetSubscriber().PublishAsync(Channel, JsonSerializer.Serialize(envelope, JsonOptions));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            EventBusLog.PublishFailed(log, ex);
        }
    }
}

internal static partial class EventBusLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish a run event or task change over Redis; open inboxes refresh on their next load")]
    public static partial void PublishFailed(ILogger logger, Exception exception);
}
