using System.Threading.Channels;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Auth;

namespace ApprovalStudio.Web.Features.Inbox;

/// <summary>A task that appeared (<see cref="Row"/> is what the inbox shows for it) or left the inbox (<see cref="Row"/> is null).</summary>
public sealed record InboxUpdate(TaskChange Change, InboxRow? Row)
{
    public bool Created => Change.Created;

    public string ResId => Change.Task.ResId;
}

/// <summary>
/// What the open inbox pages and badges hear, at a cost that does not grow with how many are open: this instance hears
/// each task change once (<see cref="ExecutionEvents"/>), gathers a batch (<see cref="Gather"/> after a quiet spell, then
/// at most one per <see cref="Interval"/>), reads the rows of the new tasks in one query, keeps each approver's pending
/// count by adding and subtracting, and hands each subscriber the part of the batch its approver may answer (worked out
/// once per approver, not per page) — a page patches its visible rows from it and reads nothing. Counts are read from the database
/// once per approver (and again, in the background with the kept count served meanwhile, after <see cref="Recount"/> or
/// when changes arrived while they were read), not per page view and not per change: an exact COUNT over 100,000 pending tasks costs more than a hundred milliseconds.
/// </summary>
public sealed class InboxFeed : BackgroundService
{
    /// <summary>How long the first change after a quiet spell waits for others to join its batch.</summary>
    public static readonly TimeSpan Gather = TimeSpan.FromMilliseconds(100);

    /// <summary>The least time between two batches: under load, each open page renders at most once per interval.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>How old a count may get before the next read counts again (a change missed on the bus heals by then).</summary>
    public static readonly TimeSpan Recount = TimeSpan.FromMinutes(1);

    private readonly Channel<(long Heard, TaskChange Change)> _changes = Channel.CreateUnbounded<(long, TaskChange)>(new() { SingleReader = true });
    private readonly Dictionary<string, CountEntry> _counts = new(StringComparer.Ordinal);
    private readonly HashSet<string> _recounting = new(StringComparer.Ordinal);
    private CancellationToken _stopping;
    private readonly Lock _gate = new();
    private readonly ExecutionEvents _events;
    private readonly InboxQueries _queries;
    private readonly TimeProvider _clock;
    private readonly ILogger<InboxFeed> _log;
    private long _heard;

    public InboxFeed(ExecutionEvents events, InboxQueries queries, TimeProvider clock, ILogger<InboxFeed> log)
    {
        _events = events;
        _queries = queries;
        _clock = clock;
        _log = log;
        _events.TaskChanged += Hear;
    }

    private readonly Dictionary<string, Approver> _approvers = new(StringComparer.Ordinal);

    /// <summary>
    /// Hands <paramref name="listener"/> each batch's changes to tasks <paramref name="actor"/> may answer (never an empty
    /// one), in the order they were heard, off any circuit's thread. Dispose to stop.
    /// </summary>
    public IDisposable Subscribe(Actor actor, Action<IReadOnlyList<InboxUpdate>> listener)
    {
        var key = KeyOf(actor);
        lock (_gate)
        {
            if (!_approvers.TryGetValue(key, out var approver))
            {
                _approvers[key] = approver = new Approver(actor);
            }

            approver.Listeners.Add(listener);
        }

        return new Subscription(() =>
        {
            lock (_gate)
            {
                if (_approvers.TryGetValue(key, out var approver) && approver.Listeners.Remove(listener) && approver.Listeners.Count == 0)
                {
                    _approvers.Remove(key);
                }
            }
        });
    }

    /// <summary>
    /// How many pending tasks <paramref name="actor"/> may answer: from memory once counted. A count that has grown old
    /// (<see cref="Recount"/>) or may hold a change twice is still served at once and counted again in the background,
    /// once however many pages read it meanwhile: at 100,000 tasks a COUNT takes some 150 ms, which the page being read
    /// (a sort, a page change) would otherwise wait for. Only the first read for an approver waits for its COUNT.
    /// </summary>
    public async Task<int> CountAsync(Actor actor, CancellationToken cancellationToken)
    {
        var key = KeyOf(actor);
        lock (_gate)
        {
            if (_counts.TryGetValue(key, out var known))
            {
                if ((known.Stale || _clock.GetUtcNow() - known.CountedAt >= Recount) && _recounting.Add(key))
                {
                    _ = RecountAsync(key, actor);
                }

                return known.Count;
            }
        }

        return await CountNowAsync(key, actor, cancellationToken);
    }

    private async Task RecountAsync(string key, Actor actor)
    {
        try
        {
            await Task.Yield(); // off the reader's turn
            await CountNowAsync(key, actor, _stopping);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            InboxLog.RecountFailed(_log, e);
        }
        finally
        {
            lock (_gate)
            {
                _recounting.Remove(key);
            }
        }
    }

    private async Task<int> CountNowAsync(string key, Actor actor, CancellationToken cancellationToken)
    {
        // A change heard before the COUNT began is in it (it was heard after its commit); one heard while it ran may be.
        var before = Interlocked.Read(ref _heard);
        var counted = await _queries.CountPendingAsync(actor, cancellationToken);
        var after = Interlocked.Read(ref _heard);
        lock (_gate)
        {
            _counts[key] = new CountEntry { Actor = actor, Count = counted, CountedAt = _clock.GetUtcNow(), Includes = before, MayInclude = after };
            return counted;
        }
    }

    /// <summary>The count as last kept (no query): what a badge shows after a batch.</summary>
    public int? KnownCount(Actor actor)
    {
        lock (_gate)
        {
            return _counts.TryGetValue(KeyOf(actor), out var known) ? known.Count : null;
        }
    }

    public override void Dispose()
    {
        _events.TaskChanged -= Hear;
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        var batch = new List<(long Heard, TaskChange Change)>();
        var last = DateTimeOffset.MinValue;
        while (await _changes.Reader.WaitToReadAsync(stoppingToken))
        {
            var wait = Interval - (_clock.GetUtcNow() - last);
            await Task.Delay(wait > Gather ? wait : Gather, _clock, stoppingToken);
            while (_changes.Reader.TryRead(out var change))
            {
                batch.Add(change);
            }

            try
            {
                await PublishAsync(batch, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Pages catch up on their next load; the next batch is not lost with this one.
                InboxLog.FeedFailed(_log, e);
            }

            batch.Clear();
            last = _clock.GetUtcNow();
        }
    }

    private void Hear(TaskChange change) => _changes.Writer.TryWrite((Interlocked.Increment(ref _heard), change));

    private async Task PublishAsync(IReadOnlyList<(long Heard, TaskChange Change)> heard, CancellationToken cancellationToken)
    {
        var changes = heard.Select(h => h.Change).ToList();
        var created = changes.Where(c => c.Created).ToList();
        var rows = created.Count == 0
            ? new Dictionary<string, InboxRow>()
            : await _queries.RowsAsync([.. created.Select(c => (c.TenantId, c.Task.ResId))], cancellationToken);
        lock (_gate)
        {
            foreach (var (seq, change) in heard)
            {
                foreach (var entry in _counts.Values)
                {
                    if (seq > entry.Includes && Answerers.May(entry.Actor, change))
                    {
                        entry.Count = Math.Max(0, entry.Count + (change.Created ? 1 : -1));
                        entry.Stale |= seq <= entry.MayInclude;
                    }
                }
            }
        }

        // A task answered before its row was read left no row: it is gone already, and its leaving is in this batch too.
        IReadOnlyList<InboxUpdate> updates = [.. changes
            .Where(c => !c.Created || rows.ContainsKey(c.Task.ResId))
            .Select(c => new InboxUpdate(c, c.Created ? rows[c.Task.ResId] : null))];
        if (updates.Count == 0)
        {
            return;
        }

        List<(Approver Approver, Action<IReadOnlyList<InboxUpdate>>[] Listeners)> approvers;
        lock (_gate)
        {
            approvers = [.. _approvers.Values.Select(a => (a, a.Listeners.ToArray()))];
        }

        foreach (var (approver, listeners) in approvers)
        {
            IReadOnlyList<InboxUpdate> mine = [.. updates.Where(u => Answerers.May(approver.Actor, u.Change))];
            if (mine.Count == 0)
            {
                continue;
            }

            // A listener that throws (a circuit going away) must not keep the batch from the others.
            foreach (var listener in listeners)
            {
                try
                {
                    listener(mine);
                }
                catch (Exception e)
                {
                    InboxLog.ListenerFailed(_log, e);
                }
            }
        }
    }

    private static string KeyOf(Actor actor) =>
        string.Join('\n', actor.TenantId, actor.UserId, actor.IsAdmin ? "admin" : "member", string.Join(',', actor.Groups.Order(StringComparer.Ordinal)));

    /// <summary>An approver's open pages and badges: what they may answer is worked out once per batch for all of them.</summary>
    private sealed class Approver(Actor actor)
    {
        public Actor Actor { get; } = actor;

        public List<Action<IReadOnlyList<InboxUpdate>>> Listeners { get; } = [];
    }

    private sealed class Subscription(Action dispose) : IDisposable
    {
        private Action? _dispose = dispose;

        public void Dispose() => Interlocked.Exchange(ref _dispose, null)?.Invoke();
    }

    private sealed class CountEntry
    {
        public required Actor Actor { get; init; }

        public required int Count { get; set; }

        public required DateTimeOffset CountedAt { get; init; }

        /// <summary>The changes heard up to this one were committed before the COUNT began: it holds them already.</summary>
        public required long Includes { get; init; }

        /// <summary>The changes heard up to this one were heard while the COUNT ran: it may hold them or not.</summary>
        public required long MayInclude { get; init; }

        /// <summary>A change it may already hold was added: right within those, counted again on the next read.</summary>
        public bool Stale { get; set; }
    }
}

internal static partial class InboxLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "The inbox feed could not publish a batch of task changes; open pages catch up on their next load")]
    public static partial void FeedFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "An inbox page failed to take a batch of task changes")]
    public static partial void ListenerFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The inbox feed could not count an approver's pending tasks again; the kept count is served until the next try")]
    public static partial void RecountFailed(ILogger logger, Exception exception);
}
