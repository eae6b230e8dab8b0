using ApprovalStudio.Web.Components.Shared;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.Caching.Memory;

namespace ApprovalStudio.Web.Features.Inbox;

/// <summary>
/// Inbox rows and their markup, shared by every open inbox of the process. Approvers of a tenant see largely the same tasks
/// (group assignments, a team's queue), and each open inbox keeps its page's rows and their cells' HTML for as long as it
/// is open: read per circuit, two hundred inboxes on the same tasks kept two hundred copies of each row's strings and
/// markup. Here equal rows (value equality: a changed title, deadline or name is another row) are one instance, and a
/// row's cells one string per layout, minute and reader's zone. Bounded: at most <see cref="Capacity"/> entries (past it,
/// the least recently used go); a row is let go after <see cref="Idle"/> unused, a minute's markup when its minute ends
/// (nobody asks for it after that).
/// </summary>
public sealed class InboxRowCache : IDisposable
{
    public const int Capacity = 20_000;

    public static readonly TimeSpan Idle = TimeSpan.FromMinutes(3);

    private readonly MemoryCache _entries = new(new MemoryCacheOptions { SizeLimit = Capacity });

    /// <summary>The shared instance of a row equal to this one (this one, the first time).</summary>
    public InboxRow Shared(InboxRow row) => _entries.GetOrCreate(row, entry =>
    {
        entry.Size = 1;
        entry.SlidingExpiration = Idle;
        return row;
    })!;

    /// <summary>The rows, each as its shared instance.</summary>
    public IReadOnlyList<InboxRow> Shared(IReadOnlyList<InboxRow> rows)
    {
        var shared = new InboxRow[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            shared[i] = Shared(rows[i]);
        }

        return shared;
    }

    /// <summary>The row's cells after its icon (its list item's text on a phone), as at this minute in the reader's zone.</summary>
    public MarkupString Cells(InboxRow row, bool compact, DateTime now, BrowserClock clock)
    {
        var minute = now.Ticks / TimeSpan.TicksPerMinute;
        return _entries.GetOrCreate(new CellsKey(row, compact, minute, clock.Zone.Id, clock.Known), entry =>
        {
            entry.Size = 1;
            entry.AbsoluteExpirationRelativeToNow = TimeSpan.FromTicks(((minute + 1) * TimeSpan.TicksPerMinute) - now.Ticks) + TimeSpan.FromSeconds(5);
            return new MarkupString(InboxRowMarkup.Cells(row, compact, now, clock));
        });
    }

    public void Dispose() => _entries.Dispose();

    private sealed record CellsKey(InboxRow Row, bool Compact, long Minute, string Zone, bool ZoneKnown);
}
