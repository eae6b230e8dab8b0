using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>
/// A signed-in browser page in a time zone of its own (so that times read as local, not UTC), and the screenshots
/// the list pages keep: desktop, phone and dark.
/// </summary>
public static partial class Viewer
{
    public const string Phone = "phone";

    /// <summary>Like <see cref="Session.SignInAsync"/>, in <paramref name="timeZone"/>.</summary>
    public static async Task<IPage> SignInAsync(
        Browser browser, AppHost host, string user, string path = "/", int width = 1280, int height = 900,
        ColorScheme scheme = ColorScheme.Light, string timeZone = "Europe/Berlin")
    {
        var context = await browser.Chromium.NewContextAsync(new()
        {
            BaseURL = host.Address.ToString(), ViewportSize = new() { Width = width, Height = height }, ColorScheme = scheme, TimezoneId = timeZone,
        });
        var page = await context.NewPageAsync();
        await page.GotoAsync(path);
        await Assertions.Expect(page).ToHaveURLAsync(SignInUrl());
        await page.GetByLabel("User name").FillAsync(user);
        await page.GetByLabel("Password").FillAsync(Session.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        if (scheme == ColorScheme.Dark)
        {
            await WaitForDarkAsync(page);
        }

        return page;
    }

    /// <summary>Dark mode follows the system once the circuit is up: wait until the page has turned dark.</summary>
    public static async Task WaitForDarkAsync(IPage page) =>
        await page.WaitForFunctionAsync("""
            () => {
              // The body's (the main content's is transparent: it would pass at once, dark or not).
              const bg = getComputedStyle(document.body).backgroundColor;
              const [r, g, b] = (bg.match(/\d+/g) ?? [255, 255, 255]).map(Number);
              return r + g + b < 200;
            }
            """);

    public static string Shot(string name) => Path.Combine(Browser.ArtifactsDirectory, name + ".png");

    /// <summary>No horizontal scrolling at the page's width.</summary>
    public static async Task AssertFitsAsync(IPage page, int width)
    {
        var scrollWidth = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
        Assert.True(scrollWidth <= width, $"the page is {scrollWidth}px wide on a {width}px screen");
    }

    /// <summary>A time printed the machine way (ISO 8601 or "u": "2026-11-23 09:00:00Z").</summary>
    [GeneratedRegex(@"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?Z?")]
    public static partial Regex MachineTime();

    [GeneratedRegex("/signin")]
    private static partial Regex SignInUrl();
}
