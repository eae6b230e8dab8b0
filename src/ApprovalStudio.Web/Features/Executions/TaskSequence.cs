namespace ApprovalStudio.Web.Features.Executions;

/// <summary>
/// The order tasks were made in, stored with each (<c>Tasks.Made</c>): the clock's ticks, made strictly increasing within
/// this process. Tasks made in the same instant — a loop's iterations in one step, two runs at once, a coarse clock — tie on
/// their creation time; this orders them as they were made, where a random resId would order them by chance. Across
/// instances of a cluster the clocks agree closely enough for that, and a tie left over falls to the resId.
/// </summary>
public static class TaskSequence
{
    private static long _last;

    public static long Next()
    {
        while (true)
        {
            var last = Volatile.Read(ref _last);
            var next = Math.Max(last + 1, DateTime.UtcNow.Ticks);
            if (Interlocked.CompareExchange(ref _last, next, last) == last)
            {
                return next;
            }
        }
    }
}
