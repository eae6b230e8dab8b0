namespace ApprovalStudio.Web.Components.Shared;

/// <summary>
/// What the page knows of the reader's browser: its time zone (<see cref="BrowserClock"/>, from the <c>tz</c> cookie or
/// asked once the circuit is up), the light/dark choice (<see cref="ThemeCookie"/>) and whether the window is a phone's
/// (<see cref="NarrowCookie"/>), as the cookies said when the page was prerendered. One cascading value from Routes: one
/// cascading component kept by every open page instead of one per piece. Only the clock changes through it (a new record
/// once the zone is known); the theme and the width change in the page itself afterwards.
/// </summary>
public sealed record BrowserChoices(BrowserClock Clock, string? Theme, string? Narrow)
{
    /// <summary>Nothing known: times in UTC (and saying so), the system's theme, the width not yet known.</summary>
    public static readonly BrowserChoices None = new(BrowserClock.Utc, null, null);
}
