using System.Net;
using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>The drop-in browser client (wwwroot-assets/approval-studio.js) following a run in chromium.</summary>
public sealed class BrowserClientTests(Browser browser) : IClassFixture<Browser>
{
    private const string Review = """
        {"key":"follow","start":"ask",
         "nodes":[{"id":"ask","type":"review","title":"Look","assignees":{"users":["bob"]}},{"id":"done","type":"set","values":{"ok":"true"}}],
         "edges":[{"from":"ask","to":"done"}]}
        """;

    [Fact]
    public async Task The_follow_page_shows_a_runs_events_in_order_live_until_it_completes()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Review);
        var executionId = await host.StartRunAsync("follow");
        var resId = await host.WaitForTaskAsync(executionId);
        var page = await browser.Chromium.NewPageAsync();

        await page.GotoAsync($"{host.Address}assets/follow.html#execution={executionId}&token={host.Token("watcher")}");
        var events = page.GetByRole(AriaRole.List, new() { Name = "Events" }).GetByRole(AriaRole.Listitem);
        await Assertions.Expect(events).ToHaveCountAsync(3);

        using (var accepted = await host.Client(host.Token("bob")).PostAsync($"/api/executions/{resId}/resume", AppHost.Json("""{"acknowledged":true}""")))
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        }

        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Completed");
        Assert.Equal(
            ["started (Running)", "nodeStarted ask (Waiting)", "suspended ask (Suspended)", "resumed ask (Resuming)", "nodeCompleted ask (Completed)",
             "nodeStarted done (Running)", "nodeCompleted done (Completed)", "completed (Completed)"],
            await events.AllInnerTextsAsync());
        // The list numbers each line by its sequence, once (the text does not repeat it).
        Assert.Equal(["1", "2", "3", "4", "5", "6", "7", "8"], await events.EvaluateAllAsync<string[]>("items => items.map(i => String(i.value))"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "follow-page.png"), FullPage = true });
    }

    [Fact]
    public async Task The_follow_page_says_reconnecting_instead_of_a_stale_status_while_the_server_is_gone()
    {
        var host = await AppHost.StartAsync();
        await using var _ = host;
        await host.CreateWorkflowAsync(Review);
        var executionId = await host.StartRunAsync("follow");
        await host.WaitForTaskAsync(executionId);
        var page = await browser.Chromium.NewPageAsync();
        await page.GotoAsync($"{host.Address}assets/follow.html#execution={executionId}&token={host.Token("watcher")}");
        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Suspended");

        await host.DisposeAsync();

        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Reconnecting… (last known: Suspended)");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "follow-page-reconnecting.png"), FullPage = true });
    }

    [Fact]
    public async Task The_follow_page_says_so_when_the_run_is_not_in_the_callers_tenant()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Review);
        var executionId = await host.StartRunAsync("follow");
        var page = await browser.Chromium.NewPageAsync();

        await page.GotoAsync($"{host.Address}assets/follow.html#execution={executionId}&token={host.Token("spy", tenant: "globex")}");

        await Assertions.Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("not found in your tenant");
    }
}
