using Microsoft.EntityFrameworkCore;
using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>The admins' Operations page, in chromium, against a real server whose worker gives up after two attempts.</summary>
public sealed class OperationsPageTests(Browser browser) : IClassFixture<Browser>
{
    private const string Review = """
        {"key":"review-flow","name":"Review","start":"ask",
         "nodes":[{"id":"ask","type":"review","title":"Look at {{input.doc}}","assignees":{"users":["bob"]}},
                  {"id":"after","type":"set","values":{"seen":"ask.acknowledged"}}],
         "edges":[{"from":"ask","to":"after"}]}
        """;

    /// <summary>Every node of chromium's accessibility tree for the page as (role, name), over the DevTools protocol.</summary>
    private static async Task<List<(string Role, string Name)>> AccessibilityTreeAsync(IPage page)
    {
        var session = await page.Context.NewCDPSessionAsync(page);
        var tree = await session.SendAsync("Accessibility.getFullAXTree");
        return [.. tree!.Value.GetProperty("nodes").EnumerateArray()
            .Where(n => !n.TryGetProperty("ignored", out var ignored) || !ignored.GetBoolean())
            .Select(n => (
                n.TryGetProperty("role", out var role) ? role.GetProperty("value").GetString() ?? "" : "",
                n.TryGetProperty("name", out var name) && name.TryGetProperty("value", out var value) ? value.GetString() ?? "" : ""))];
    }

    [Fact]
    public async Task An_admin_sees_the_step_the_worker_gave_up_on_retries_it_and_the_run_completes()
    {
        await using var host = await AppHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Workflows:Worker:MaxAttempts"] = "2",
            ["Workflows:Worker:BaseBackoff"] = "00:00:00.050",
        });
        await Session.AddPersonAsync(host, "ada", "ops", admin: true);
        await Session.AddPersonAsync(host, "bob", "ops");
        await host.CreateWorkflowAsync(Review);
        var executionId = await host.StartRunAsync("review-flow", """{"doc":"the plan"}""");
        var resId = await host.WaitForTaskAsync(executionId);

        // The run's state stops reading back: its next step fails every attempt and is dead-lettered.
        string state;
        await using (var db = host.Database.OpenContext())
        {
            state = (await db.Executions.Where(e => e.Id == executionId).Select(e => e.StateJson).SingleAsync())!;
            await db.Executions.Where(e => e.Id == executionId).ExecuteUpdateAsync(s => s.SetProperty(e => e.StateJson, "{not json"));
        }

        using (var answered = await host.Client(host.Token("bob")).PostJsonAsync($"/api/executions/{resId}/resume", """{"acknowledged":true}"""))
        {
            Assert.True(answered.IsSuccessStatusCode);
        }

        await host.WaitForAsync(executionId, s => (string?)s["status"] == "Failed");

        var page = await Session.SignInAsync(browser, host, "ada");
        await page.GetByRole(AriaRole.Link, new() { Name = "Operations" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Operations", Level = 1 })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("queue-dead").GetByTestId("figure")).ToHaveTextAsync("1");
        var row = page.GetByTestId("dead-letter");
        await Assertions.Expect(row).ToHaveCountAsync(1);
        await Assertions.Expect(row).ToContainTextAsync("review-flow");
        await Assertions.Expect(row).ToContainTextAsync("Resume");
        await Assertions.Expect(row.GetByTestId("dead-node")).ToHaveTextAsync("ask"); // the node its answer was for
        await Assertions.Expect(page.GetByTestId("failed-empty")).ToBeVisibleAsync();
        var instance = page.GetByTestId("instance").Filter(new() { HasText = "(serving this page)" });
        await Assertions.Expect(instance).ToContainTextAsync("Alive");
        await Accessibility.AssertNoSeriousViolationsAsync(page, "the Operations page");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "operations-page.png"), FullPage = true });
        // On a phone: the admins' pages are icons in the bar beside the sign-out, and each row is a card with its button.
        await page.SetViewportSizeAsync(390, 844);
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Operations" })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Sign out" })).ToBeInViewportAsync();
        var retry = row.GetByRole(AriaRole.Button, new() { Name = $"Retry: Resume step of review-flow (run {executionId[..8]})" });
        await retry.ScrollIntoViewIfNeededAsync();
        await Assertions.Expect(retry).ToBeInViewportAsync();
        var box = await retry.BoundingBoxAsync();
        Assert.True(box!.X + box.Width <= 390, $"the Retry button ends at {box.X + box.Width} px on a 390 px screen");
        // Stacked into cards, the tables are still tables to a screen reader: chromium's own accessibility tree (not a selector
        // engine's guess from tag names) has the table, its rows and its cells with their text.
        var tree = await AccessibilityTreeAsync(page);
        Assert.Contains(("table", "Dead-lettered steps"), tree);
        Assert.Contains(("table", "Instances"), tree);
        Assert.Contains(("cell", "Node ask"), tree); // a cell says its column (the CSS content before it), then its value
        Assert.Equal(2, tree.Count(n => n.Role == "row")); // the dead letter and this instance (the hidden header rows are not read)
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "operations-page-phone.png"), FullPage = true });
        await page.SetViewportSizeAsync(1280, 900);

        // In the dark theme the page stays readable (axe's contrast rules included).
        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Dark });
        await page.ReloadAsync();
        await Assertions.Expect(page.GetByTestId("dead-letter").GetByTestId("dead-node")).ToHaveTextAsync("ask");
        Assert.Equal("dark", await page.EvaluateAsync<string>("() => document.documentElement.dataset.theme"));
        await Accessibility.AssertNoSeriousViolationsAsync(page, "the Operations page, dark");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "operations-page-dark.png"), FullPage = true });
        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Light });
        await page.ReloadAsync();
        await Assertions.Expect(page.GetByTestId("dead-letter")).ToHaveCountAsync(1);

        // Fixed: the state reads again. The retry runs the step, and the run goes on to its end.
        await using (var db = host.Database.OpenContext())
        {
            await db.Executions.Where(e => e.Id == executionId).ExecuteUpdateAsync(s => s.SetProperty(e => e.StateJson, state));
        }

        // Retry asks first: Cancel changes nothing, Retry in the dialog does it.
        var retryButton = row.GetByRole(AriaRole.Button, new() { Name = $"Retry: Resume step of review-flow (run {executionId[..8]})" });
        await retryButton.ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog);
        await Assertions.Expect(dialog).ToContainTextAsync("runs again, and the run goes on from it");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "operations-retry-confirm.png") });
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        await Assertions.Expect(dialog).ToHaveCountAsync(0);
        Assert.Equal("Failed", (string?)(await host.StatusAsync(executionId))["status"]);
        await retryButton.ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Retry", Exact = true }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("ops-notice")).ToContainTextAsync("Queued again");
        await Assertions.Expect(page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Queued again" })).ToBeFocusedAsync();
        await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
        await page.GetByRole(AriaRole.Button, new() { Name = "Refresh" }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("dead-empty")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("queue-dead").GetByTestId("figure")).ToHaveTextAsync("0");

        // Not for people who are not admins: no link, and the page says so.
        var bob = await Session.SignInAsync(browser, host, "bob");
        await Assertions.Expect(bob.GetByRole(AriaRole.Link, new() { Name = "History" })).ToBeVisibleAsync();
        await Assertions.Expect(bob.GetByRole(AriaRole.Link, new() { Name = "Operations" })).ToHaveCountAsync(0);
        await bob.GotoAsync("/admin/operations");
        await Assertions.Expect(bob.GetByRole(AriaRole.Heading, new() { Name = "Not for you" })).ToBeVisibleAsync();
    }
}
