using System.Text.Json;
using ApprovalStudio.Web.Features.Hub;
using StackExchange.Redis;

namespace ApprovalStudio.Web.Features.Inbox;

/// <summary>
/// Carries inbox changes and run events to the Blazor circuits of every instance: in-process on one
/// machine; over Redis pub/sub when <c>Redis:Configuration</c> is set, so a circuit on instance B sees
/// what the worker on instance A did (the SignalR backplane only reaches hub clients, not circuits).
/// </summary>
public interface IInboxBus
{
    Task PublishAsync(InboxChange change);

    Task PublishAsync(ExecutionEventMessage message);
}

public sealed class LocalInboxBus(InboxEvents events) : IInboxBus
{
    public Task PublishAsync(InboxChange change)
    {
        events.Raise(change);
        return Task.CompletedTask;
    }

    public Task PublishAsync(ExecutionEventMessage message)
    {
        events.Raise(message);
        return Task.CompletedTask;
    }
}

/// <summary>Publishes to one Redis channel; every instance (this one too) raises what arrives on it locally.</summary>
public sealed class RedisInboxBus(IConnectionMultiplexer redis, InboxEvents events, ILogger<RedisInboxBus> log) : IInboxBus, IHostedService
{
    private static readonly RedisChannel Channel = RedisChannel.Literal("approval-studio:inbox");
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private sealed record Envelope(InboxChange? Change, ExecutionEventMessage? Event);

    public Task PublishAsync(InboxChange change) => PublishAsync(new Envelope(change, null));

    public Task PublishAsync(ExecutionEventMessage message) => PublishAsync(new Envelope(null, message));

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
            InboxLog.PublishFailed(log, ex);
        }
    }
}

internal static partial class InboxLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish an inbox change over Redis; open inboxes refresh on their next load")]
    public static partial void PublishFailed(ILogger logger, Exception exception);
}
