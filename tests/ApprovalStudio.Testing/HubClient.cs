using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Hub;
using Microsoft.AspNetCore.SignalR.Client;

namespace ApprovalStudio.Testing;

/// <summary>
/// A real SignalR .NET client of /hubs/executions that applies each event sequence once and in order,
/// as the contract asks of clients: the subscribe result and live events may overlap.
/// </summary>
public sealed class HubClient : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly SortedDictionary<long, ExecutionEventMessage> _early = [];
    private readonly List<ExecutionEventMessage> _events = [];
    private readonly List<(string Kind, InboxTaskMessage Task)> _inbox = [];
    private readonly SemaphoreSlim _changed = new(0);
    private long _last;

    private HubClient(HubConnection connection)
    {
        Connection = connection;
        connection.On<ExecutionEventMessage>(nameof(IExecutionClient.ExecutionEvent), e =>
        {
            Interlocked.Increment(ref _pushed);
            Apply(e);
        });
        connection.On<InboxTaskMessage>(nameof(IExecutionClient.TaskCreated), t => Inbox("created", t));
        connection.On<InboxTaskMessage>(nameof(IExecutionClient.TaskResolved), t => Inbox("resolved", t));
    }

    private int _pushed;

    public HubConnection Connection { get; }

    /// <summary>How many events the server pushed (live, applied or not: one after a gap waits for the gap).</summary>
    public int Pushed => Volatile.Read(ref _pushed);

    public IReadOnlyList<ExecutionEventMessage> Events
    {
        get
        {
            lock (_gate)
            {
                return [.. _events];
            }
        }
    }

    public IReadOnlyList<(string Kind, InboxTaskMessage Task)> InboxMessages
    {
        get
        {
            lock (_gate)
            {
                return [.. _inbox];
            }
        }
    }

    public long LastSequence
    {
        get
        {
            lock (_gate)
            {
                return _last;
            }
        }
    }

    public static async Task<HubClient> ConnectAsync(Uri address, string token)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(address, "/hubs/executions"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(token))
            .Build();
        var client = new HubClient(connection);
        await connection.StartAsync();
        return client;
    }

    /// <summary>Subscribes after <paramref name="afterSequence"/> (or from the start) and applies what it returns.</summary>
    public async Task<IReadOnlyList<ExecutionEventMessage>> SubscribeAsync(string executionId, long? afterSequence = null)
    {
        lock (_gate)
        {
            _last = Math.Max(_last, afterSequence ?? 0);
        }

        var missed = await Connection.InvokeAsync<IReadOnlyList<ExecutionEventMessage>>("SubscribeExecution", executionId, afterSequence);
        foreach (var e in missed)
        {
            Apply(e);
        }

        return missed;
    }

    public Task SubscribeInboxAsync() => Connection.InvokeAsync("SubscribeInbox");

    public async Task<IReadOnlyList<ExecutionEventMessage>> WaitForAsync(Func<IReadOnlyList<ExecutionEventMessage>, bool> until, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            var events = Events;
            if (until(events))
            {
                return events;
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException("Events so far: " + string.Join(", ", events.Select(e => $"{e.Sequence}:{e.Type}:{e.NodeId}")));
            }

            await _changed.WaitAsync(left);
        }
    }

    public async Task WaitForInboxAsync(Func<IReadOnlyList<(string Kind, InboxTaskMessage Task)>, bool> until, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (!until(InboxMessages))
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException("Inbox so far: " + string.Join(", ", InboxMessages.Select(m => $"{m.Kind}:{m.Task.Title}")));
            }

            await _changed.WaitAsync(left);
        }
    }

    public async ValueTask DisposeAsync() => await Connection.DisposeAsync();

    private void Apply(ExecutionEventMessage e)
    {
        lock (_gate)
        {
            if (e.Sequence <= _last)
            {
                return;
            }

            _early[e.Sequence] = e;
            while (_early.Remove(_last + 1, out var next))
            {
                _events.Add(next);
                _last = next.Sequence;
            }
        }

        _changed.Release();
    }

    private void Inbox(string kind, InboxTaskMessage task)
    {
        lock (_gate)
        {
            _inbox.Add((kind, task));
        }

        _changed.Release();
    }
}
