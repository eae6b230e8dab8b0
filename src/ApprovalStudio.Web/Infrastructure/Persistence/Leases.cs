using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Infrastructure.Persistence;

/// <summary>A row of a durable queue that one instance at a time takes on for a while (the workflow queue, the notifications outbox).</summary>
public interface ILeasedRow
{
    long Id { get; }
    string Status { get; }
    DateTime AvailableAt { get; }
    DateTime? LeasedUntil { get; }
    string? LeaseOwner { get; }
}

/// <summary>
/// Leasing, the same for every durable queue: a row is free when it is pending and due, or leased and its lease
/// has run out (its holder died); taking it is a guarded update, so of two instances that saw it free one wins.
/// </summary>
public static class Leases
{
    public const string Pending = "Pending";
    public const string Leased = "Leased";

    public static Expression<Func<T, bool>> Free<T>(DateTime now)
        where T : class, ILeasedRow =>
        r => (r.Status == Pending && r.AvailableAt <= now) || (r.Status == Leased && r.LeasedUntil < now);

    /// <summary>
    /// Takes what it can of <paramref name="candidates"/> in one writing transaction: one commit for the batch, and on
    /// SQLite in turn with the process's other writers (an update outside the turn waits for SQLite's lock by sleeping
    /// on its thread — under load the worker spent most of its time there and the answers stalled behind it).
    /// </summary>
    /// <returns>The candidates this owner took, in their order.</returns>
    public static async Task<List<long>> TakeAsync<T>(
        AppDbContext db, IReadOnlyList<long> candidates, string owner, DateTime now, TimeSpan duration, CancellationToken cancellationToken)
        where T : class, ILeasedRow
    {
        var taken = new List<long>();
        if (candidates.Count == 0)
        {
            return taken;
        }

        var until = now + duration;
        var rows = db.Set<T>();
        await using var transaction = await db.BeginWriteAsync(cancellationToken);
        foreach (var id in candidates)
        {
            var won = await rows.Where(r => r.Id == id).Where(Free<T>(now))
                .ExecuteUpdateAsync(s => s
                    .SetProperty(r => r.Status, Leased)
                    .SetProperty(r => r.LeaseOwner, owner)
                    .SetProperty(r => r.LeasedUntil, until), cancellationToken);
            if (won == 1)
            {
                taken.Add(id);
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return taken;
    }

    /// <summary>Retry delay after <paramref name="attempts"/> failures: <paramref name="baseDelay"/> · 2^(attempts−1), at most <paramref name="max"/>.</summary>
    public static TimeSpan Backoff(TimeSpan baseDelay, TimeSpan max, int attempts) =>
        TimeSpan.FromTicks(Math.Min(max.Ticks, baseDelay.Ticks * (1L << Math.Min(attempts - 1, 20))));
}
