using ApprovalStudio.Web.Components.Shared;
using ApprovalStudio.Web.Features.Inbox;

namespace ApprovalStudio.Web.Tests.Inbox;

/// <summary>
/// Every open inbox on the same tasks shares their rows and markup (benchmarks/reports/inbox-scale-*: memory per circuit):
/// equal rows read by two circuits are one instance and one string, and whatever changes what a row shows gives new ones.
/// </summary>
public sealed class InboxRowCacheTests : IDisposable
{
    private static readonly DateTime Now = new(2026, 12, 2, 12, 0, 30, DateTimeKind.Utc);
    private readonly InboxRowCache _cache = new();

    // Each call reads the row anew, as each circuit's query does: equal values, strings of their own.
    private static InboxRow Read(string title = "Pay invoice 7", DateTime? expires = null) =>
        new(new string("res-1".AsSpan()), "run-1", "invoices", "Approval", new string(title.AsSpan()), "jdoe", Now.AddMinutes(-5), expires ?? Now.AddHours(1))
        {
            RequesterName = new string("Jane Doe".AsSpan()),
            WorkflowName = "Invoices",
        };

    [Fact]
    public void Equal_rows_read_by_two_inboxes_are_one_instance_and_a_changed_row_is_another()
    {
        var first = _cache.Shared([Read(), Read("Pay invoice 8")]);
        var second = _cache.Shared([Read(), Read("Pay invoice 8")]);

        Assert.Same(first[0], second[0]);
        Assert.Same(first[1], second[1]);
        Assert.NotSame(first[0], _cache.Shared(Read(expires: Now.AddHours(2)))); // a new deadline
        Assert.Equal(Now.AddHours(2), _cache.Shared(Read(expires: Now.AddHours(2))).ExpiresAt);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_rows_markup_is_one_string_per_minute_and_zone_and_says_what_the_row_says_then(bool compact)
    {
        var berlin = new BrowserClock("Europe/Berlin");
        var html = _cache.Cells(Read(), compact, Now, berlin);

        Assert.Same(html.Value, _cache.Cells(Read(), compact, Now.AddSeconds(20), new BrowserClock("Europe/Berlin")).Value); // the same minute, another reader
        Assert.Equal(InboxRowMarkup.Cells(Read(), compact, Now, berlin), html.Value);

        var later = _cache.Cells(Read(), compact, Now.AddMinutes(90), berlin);
        Assert.Equal(InboxRowMarkup.Cells(Read(), compact, Now.AddMinutes(90), berlin), later.Value);
        Assert.NotEqual(html.Value, later.Value); // "5 min ago" has become "1 h ago" and "1 h left" gone

        var utc = _cache.Cells(Read(), compact, Now, BrowserClock.Utc);
        Assert.Equal(InboxRowMarkup.Cells(Read(), compact, Now, BrowserClock.Utc), utc.Value);
        Assert.NotEqual(html.Value, utc.Value);

        var retitled = _cache.Cells(Read("Pay invoice 7 (corrected)"), compact, Now, berlin);
        Assert.Contains("Pay invoice 7 (corrected)", retitled.Value, StringComparison.Ordinal);
    }

    public void Dispose() => _cache.Dispose();
}
