using ApprovalStudio.Web.Components.Shared;
using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalStudio.Web.Tests.Components;

public sealed class BrowserClockTests : MudTestContext
{
    private static readonly DateTime Now = new(2026, 7, 15, 12, 0, 0, DateTimeKind.Utc);

    public BrowserClockTests() => Services.AddSingleton<TimeProvider>(new FixedClock(Now));

    [Fact]
    public void A_known_zone_shows_local_times_and_names_the_zone_offset_and_utc_on_hover()
    {
        var clock = new BrowserClock("Europe/Berlin");

        Assert.True(clock.Known);
        Assert.Equal("16:02", clock.Short(new DateTime(2026, 7, 15, 14, 2, 0, DateTimeKind.Utc), Now));
        Assert.Equal("Tue 14 Jul, 09:30", clock.Short(new DateTime(2026, 7, 14, 7, 30, 0, DateTimeKind.Utc), Now));
        Assert.Equal("31 Dec 2025, 23:30", clock.Short(new DateTime(2025, 12, 31, 22, 30, 0, DateTimeKind.Utc), Now));
        Assert.Equal("Wednesday 15 July 2026, 16:02:05 Europe/Berlin (UTC+02:00; 14:02 UTC)", clock.Full(new DateTime(2026, 7, 15, 14, 2, 5, DateTimeKind.Utc)));
        Assert.Equal("Thursday 15 January 2026, 15:00:00 Europe/Berlin (UTC+01:00; 14:00 UTC)", clock.Full(new DateTime(2026, 1, 15, 14, 0, 0, DateTimeKind.Utc)));
    }

    [Fact]
    public void A_zone_west_of_utc_has_a_minus_offset_and_its_own_day()
    {
        var clock = new BrowserClock("America/New_York");

        // 01:00 UTC on the 16th is still the evening of the 15th in New York: "today" there.
        Assert.Equal("21:00", clock.Short(new DateTime(2026, 7, 16, 1, 0, 0, DateTimeKind.Utc), Now));
        Assert.Contains("America/New_York (UTC-04:00; 01:00 UTC)", clock.Full(new DateTime(2026, 7, 16, 1, 0, 0, DateTimeKind.Utc)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Not/AZone")]
    [InlineData("../../etc/passwd")]
    public void An_unknown_or_missing_zone_shows_utc_and_says_so(string? zone)
    {
        var clock = new BrowserClock(zone);

        Assert.False(clock.Known);
        Assert.Equal("14:02 UTC", clock.Short(new DateTime(2026, 7, 15, 14, 2, 0, DateTimeKind.Utc), Now));
        Assert.EndsWith(" UTC", clock.Full(Now), StringComparison.Ordinal);
    }

    [Fact]
    public void LocalTime_renders_a_time_element_with_the_instant_the_local_text_and_the_full_time_on_hover()
    {
        var at = new DateTime(2026, 7, 15, 9, 5, 0, DateTimeKind.Utc);

        var shown = Render<CascadingValue<BrowserChoices>>(p => p
            .Add(c => c.Value, BrowserChoices.None with { Clock = new BrowserClock("Asia/Tokyo") })
            .AddChildContent<LocalTime>(t => t.Add(c => c.Value, at)));
        var time = shown.Find("time");

        Assert.Equal("2026-07-15T09:05:00Z", time.GetAttribute("datetime"));
        Assert.Equal("18:05", time.TextContent);
        Assert.Contains("Asia/Tokyo (UTC+09:00; 09:05 UTC)", time.GetAttribute("title"), StringComparison.Ordinal);

        var relative = Render<LocalTime>(p => p.Add(c => c.Value, at).AddChildContent("3 h ago"));
        Assert.Equal("3 h ago", relative.Find("time").TextContent);
        Assert.EndsWith("09:05:00 UTC", relative.Find("time").GetAttribute("title"), StringComparison.Ordinal);

        Assert.Equal("—", Render<LocalTime>(p => p.Add(c => c.Value, null)).Markup.Trim());
    }

    private sealed class FixedClock(DateTime now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(now);
    }
}
