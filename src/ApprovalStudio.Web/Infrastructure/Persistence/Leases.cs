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

    /// <returns>The candidates this owner took, in their order.</returns>
    public static async Task<List<long>> TakeAsync<T>(
        DbSet<T> rows, IReadOnlyList<long> candidates, string owner, DateTime now, TimeSpan duration, CancellationToken cancellationToken)
        where T : class, ILeasedRow
    {
        var taken = new List<long>();
        var until = now + duration;
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

        return taken;
    }

    /// <summary>Retry delay after <paramref name="attempts"/> failures: <paramref name="baseDelay"/> · 2^(attempts−1), at most <paramref name="max"/>.</summary>
    public static TimeSpan Backoff(TimeSpan baseDelay, TimeSpan max, int attempts) =>
        TimeSpan.FromTicks(Math.Min(max.Ticks, baseDelay.Ticks * (1L << Math.Min(attempts - 1, 20))));
}
