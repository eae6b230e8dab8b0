using System.Net;
using System.Net.Http.Headers;
using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>The frame of every page: not-found pages, the kept dark-mode choice, the landmark, the app bar's badge.</summary>
public sealed class LayoutTests(Browser browser, SharedHost shared) : IClassFixture<Browser>, IClassFixture<SharedHost>
{
    private const string Review = """
        {"key":"look","name":"Look","start":"ask",
         "nodes":[{"id":"ask","type":"review","title":"Look at item {{input.n}}","assignees":{"groups":["ops"]}}],"edges":[]}
        """;

    [Fact]
    public async Task An_unknown_address_gives_a_browser_a_page_and_an_api_client_problem_json()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await Session.AddPersonAsync(host, "olga", "ops", tenant: tenant);

        var anonymous = await browser.Chromium.NewPageAsync();
        var response = await anonymous.GotoAsync($"{host.Address}no/such/page");
        Assert.Equal(404, response!.Status);
        await Assertions.Expect(anonymous.GetByRole(AriaRole.Heading, new() { Name = "Page not found" })).ToBeVisibleAsync();
        Assert.DoesNotContain("\"status\":404", await anonymous.ContentAsync(), StringComparison.Ordinal);

        var page = await Session.SignInAsync(browser, host, $"olga@{tenant}");
        response = await page.GotoAsync("/tasks-typo");
        Assert.Equal(404, response!.Status);
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Page not found" })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Go to your inbox" })).ToBeVisibleAsync();
        await Accessibility.AssertNoSeriousViolationsAsync(page, "not-found page");
        await page.ScreenshotAsync(new() { Path = Shot("not-found"), FullPage = true });

        using var api = new HttpClient { BaseAddress = host.Address };
        api.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using var problem = await api.GetAsync("/api/no-such-route");
        Assert.Equal(HttpStatusCode.NotFound, problem.StatusCode);
        Assert.Equal("application/problem+json", problem.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_dark_mode_choice_is_kept_across_reloads_and_pages()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await Session.AddPersonAsync(host, "olga", "ops", tenant: tenant);
        var page = await Session.SignInAsync(browser, host, $"olga@{tenant}");
        var light = await Background(page);

        await page.GetByRole(AriaRole.Button, new() { Name = "Switch to dark mode" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Switch to light mode" })).ToBeVisibleAsync();
        var dark = await Background(page);
        Assert.NotEqual(light, dark);

        await page.ReloadAsync();
        await page.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Switch to light mode" })).ToBeVisibleAsync();
        Assert.Equal(dark, await Background(page));

        await page.GotoAsync("/history");
        await page.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        Assert.Equal(dark, await Background(page));
        await page.ScreenshotAsync(new() { Path = Shot("history-dark-kept"), FullPage = true });

        await page.GetByRole(AriaRole.Button, new() { Name = "Switch to light mode" }).ClickAsync();
        // The toggle shows the new mode once its cookie is written: a reload before that would still read "dark".
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Switch to dark mode" })).ToBeVisibleAsync();
        await page.ReloadAsync();
        await page.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        Assert.Equal(light, await Background(page));
    }

    [Fact]
    public async Task Without_a_choice_the_systems_dark_mode_shows_from_the_first_paint_without_the_circuit_and_the_toggle_says_so()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await Session.AddPersonAsync(host, "olga", "ops", tenant: tenant);
        var page = await Session.SignInAsync(browser, host, $"olga@{tenant}", scheme: ColorScheme.Dark);
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Switch to light mode" })).ToBeVisibleAsync();
        var dark = await Background(page);

        // The theme is the page's CSS and app.js, not the circuit's: with Blazor's script blocked the page is dark all the same.
        await page.RouteAsync("**/_framework/blazor.web.js", route => route.AbortAsync());
        await page.ReloadAsync();
        Assert.Equal("dark", await page.EvaluateAsync<string>("() => document.documentElement.dataset.theme"));
        Assert.Equal(dark, await Background(page));
        await page.UnrouteAsync("**/_framework/blazor.web.js");

        // The system turns light: a page that follows it turns too.
        await page.ReloadAsync();
        await page.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Light });
        await page.WaitForFunctionAsync("() => document.documentElement.dataset.theme === 'light'");
        Assert.NotEqual(dark, await Background(page));
    }

    [Fact]
    public async Task The_sign_in_page_follows_the_systems_scheme_whatever_the_apps_dark_mode_choice()
    {
        var host = shared.Host;
        foreach (var (system, expected) in new[] { (ColorScheme.Light, "rgb(255, 255, 255)"), (ColorScheme.Dark, "rgb(21, 24, 28)") })
        {
            var context = await browser.Chromium.NewContextAsync(new() { BaseURL = host.Address.ToString(), ColorScheme = system });
            await context.AddCookiesAsync([new() { Name = "theme", Value = system == ColorScheme.Light ? "dark" : "light", Url = host.Address.ToString() }]);
            var page = await context.NewPageAsync();
            await page.GotoAsync("/signin");
            Assert.Equal(expected, await Background(page)); // its own colours, readable: not the app's body on a choice it does not style
            await context.CloseAsync();
        }
    }

    [Fact]
    public async Task Every_app_page_has_one_main_landmark_and_the_pending_badge_fits_in_the_app_bar()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Review, tenant: tenant);
        await Session.AddPersonAsync(host, "olga", "ops", tenant: tenant);
        for (var n = 1; n <= 12; n++)
        {
            await host.StartRunAsync("look", $$"""{"n":{{n}}}""", tenant: tenant);
        }

        foreach (var (width, height) in new[] { (1280, 900), (390, 844) })
        {
            var page = await Session.SignInAsync(browser, host, $"olga@{tenant}", width: width, height: height);
            await Assertions.Expect(page.GetByRole(AriaRole.Main)).ToHaveCountAsync(1);
            var badge = page.Locator(".mud-appbar .mud-badge");
            await Assertions.Expect(badge).ToHaveTextAsync("12");
            var bar = (await page.Locator(".mud-appbar").BoundingBoxAsync())!;
            var box = (await badge.BoundingBoxAsync())!;
            Assert.True(box.Y >= bar.Y && box.Y + box.Height <= bar.Y + bar.Height,
                $"At {width} px the badge ({box.Y}..{box.Y + box.Height}) sticks out of the app bar ({bar.Y}..{bar.Y + bar.Height}).");
            await page.Locator(".mud-appbar").ScreenshotAsync(new() { Path = Shot($"app-bar-{width}") });
            await page.Context.CloseAsync();
        }
    }

    private static Task<string> Background(IPage page) =>
        page.EvaluateAsync<string>("() => getComputedStyle(document.body).backgroundColor");

    private static string Shot(string name) => Path.Combine(Browser.ArtifactsDirectory, name + ".png");
}
