using System.Globalization;

namespace ApprovalStudio.Web.Components.Shared;

/// <summary>
/// The viewer's time zone, as their browser names it (IANA id, sent in the <c>tz</c> cookie by
/// <c>/assets/app.js</c>, or asked over JS interop on the first interactive render when the cookie is
/// missing). Cascaded from <c>Routes</c>; pages show every time through <see cref="LocalTime"/>.
/// Until the zone is known times are shown in UTC, and say so.
/// </summary>
public sealed class BrowserClock
{
    public const string CookieName = "tz";

    public static readonly BrowserClock Utc = new(null);

    public BrowserClock(string? timeZoneId)
    {
        var zone = Find(timeZoneId);
        Known = zone is not null;
        Zone = zone ?? TimeZoneInfo.Utc;
    }

    public TimeZoneInfo Zone { get; }

    /// <summary>Whether the browser told us its zone (else times are UTC).</summary>
    public bool Known { get; }

    /// <summary>The same instant in the viewer's zone.</summary>
    public DateTime ToLocal(DateTime utc) => TimeZoneInfo.ConvertTimeFromUtc(DateTime.SpecifyKind(utc, DateTimeKind.Utc), Zone);

    /// <summary>How a time reads on a page: "14:02" today, "Mon 30 Nov, 14:02" this year, "30 Nov 2025, 14:02" before.</summary>
    public string Short(DateTime utc, DateTime nowUtc)
    {
        var local = ToLocal(utc);
        var today = ToLocal(nowUtc);
        var format = local.Date == today.Date ? "HH:mm"
            : local.Year == today.Year ? "ddd d MMM, HH:mm"
            : "d MMM yyyy, HH:mm";
        return local.ToString(format, CultureInfo.InvariantCulture) + (Known ? string.Empty : " UTC");
    }

    /// <summary>The hover text: the whole date and time with its zone and offset, and the UTC time.</summary>
    public string Full(DateTime utc)
    {
        var local = ToLocal(utc);
        var text = local.ToString("dddd d MMMM yyyy, HH:mm:ss", CultureInfo.InvariantCulture);
        if (!Known)
        {
            return text + " UTC";
        }

        var offset = Zone.GetUtcOffset(local);
        var sign = offset < TimeSpan.Zero ? "-" : "+";
        return $"{text} {Zone.Id} (UTC{sign}{offset:hh\\:mm}; {DateTime.SpecifyKind(utc, DateTimeKind.Utc):HH:mm} UTC)";
    }

    private static TimeZoneInfo? Find(string? id)
    {
        if (string.IsNullOrWhiteSpace(id) || id.Length > 64)
        {
            return null;
        }

        return TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone) ? zone : null;
    }
}
