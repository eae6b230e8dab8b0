using System.Net;
using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>Live updates, keyboard use, small screens, dark mode, history and the run timeline.</summary>
public sealed class InboxLiveTests(Browser browser) : IClassFixture<Browser>
{
    private const string Review = """
        {"key":"doc-review","name":"Doc review","start":"read",
         "nodes":[{"id":"read","type":"review","title":"Read {{input.doc}}","assignees":{"groups":["ops"]},"expiresAfter":"PT3H"},
                  {"id":"approve","type":"approval","title":"Sign off {{input.doc}}","assignees":{"groups":["ops"]}},
                  {"id":"done","type":"set","values":{"ok":"approve.decision"}}],
         "edges":[{"from":"read","to":"approve"},{"from":"approve","to":"done"}]}
        """;

    private static async Task<AppHost> HostWithPersonAsync(string user)
    {
        var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Review);
        await Session.AddPersonAsync(host, user, "ops");
        return host;
    }

    [Fact]
    public async Task New_tasks_appear_and_answered_ones_leave_without_a_reload_and_the_badge_counts_them()
    {
        await using var host = await HostWithPersonAsync("olga");
        var page = await Session.SignInAsync(browser, host, "olga");
        await Assertions.Expect(page.GetByText("Nothing is waiting for you.")).ToBeVisibleAsync();

        var executionId = await host.StartRunAsync("doc-review", """{"doc":"Q3 plan"}""");
        var link = page.GetByRole(AriaRole.Link, new() { Name = "Read Q3 plan" });
        await Assertions.Expect(link).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByLabel("1 pending tasks")).ToBeVisibleAsync();

        var resId = await host.WaitForTaskAsync(executionId);
        using (var answer = await host.Admin().PostAsync($"/api/executions/{resId}/resume", AppHost.Json("""{"acknowledged":true}""")))
        {
            Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
        }

        await Assertions.Expect(link).ToHaveCountAsync(0);
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Sign off Q3 plan" })).ToBeVisibleAsync();
    }

    [Fact]
    public async Task Elsewhere_than_the_newest_first_page_new_tasks_are_announced_and_shown_on_request()
    {
        await using var host = await HostWithPersonAsync("uma");
        await host.WaitForTaskAsync(await host.StartRunAsync("doc-review", """{"doc":"first"}"""));
        await host.WaitForTaskAsync(await host.StartRunAsync("doc-review", """{"doc":"second"}"""));
        var page = await Session.SignInAsync(browser, host, "uma");
        var links = page.GetByRole(AriaRole.Table, new() { Name = "Pending tasks" }).GetByRole(AriaRole.Link);
        await Assertions.Expect(links).ToHaveTextAsync(["Read second", "Read first"]);
        await page.GetByLabel("Sort").SelectOptionAsync(new SelectOptionValue { Label = "Oldest first" });
        await Assertions.Expect(links).ToHaveTextAsync(["Read first", "Read second"]); // read again, in the new order

        // Oldest first, a new task belongs at the end of the last page: the list stays put and says what arrived.
        await host.WaitForTaskAsync(await host.StartRunAsync("doc-review", """{"doc":"third"}"""));
        await host.WaitForTaskAsync(await host.StartRunAsync("doc-review", """{"doc":"fourth"}"""));
        var news = page.GetByRole(AriaRole.Status).Filter(new() { HasText = "new tasks" });
        await Assertions.Expect(news).ToContainTextAsync("2 new tasks since this list was read");
        await Assertions.Expect(links).ToHaveTextAsync(["Read first", "Read second"]);
        await Assertions.Expect(page.GetByLabel("4 pending tasks")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "inbox-new-tasks.png"), FullPage = true });

        await news.GetByRole(AriaRole.Button, new() { Name = "Show" }).ClickAsync();
        await Assertions.Expect(links).ToHaveTextAsync(["Read first", "Read second", "Read third", "Read fourth"]);
        await Assertions.Expect(page.GetByTestId("inbox-new")).ToBeEmptyAsync();
    }

    [Fact]
    public async Task A_task_answered_on_another_page_leaves_this_one()
    {
        await using var host = await HostWithPersonAsync("ned");
        var executionId = await host.StartRunAsync("doc-review", """{"doc":"memo"}""");
        await host.WaitForTaskAsync(executionId);
        var inbox = await Session.SignInAsync(browser, host, "ned");
        var link = inbox.GetByRole(AriaRole.Table, new() { Name = "Pending tasks" }).GetByRole(AriaRole.Link, new() { Name = "Read memo" });
        await Assertions.Expect(link).ToBeVisibleAsync();

        // The same person, a second tab: answer there, and the first tab's row goes (and the next task arrives on top).
        var tab = await inbox.Context.NewPageAsync();
        await tab.GotoAsync(host.Address + "tasks/" + await host.WaitForTaskAsync(executionId));
        await tab.GetByRole(AriaRole.Button, new() { Name = "Acknowledge" }).ClickAsync();
        await Assertions.Expect(link).ToHaveCountAsync(0);
        await Assertions.Expect(inbox.GetByRole(AriaRole.Link, new() { Name = "Sign off memo" })).ToBeVisibleAsync();
        await Assertions.Expect(inbox.GetByLabel("1 pending tasks")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task An_approver_answers_with_the_keyboard_alone()
    {
        await using var host = await HostWithPersonAsync("kai");
        var executionId = await host.StartRunAsync("doc-review", """{"doc":"budget"}""");
        var resId = await host.WaitForTaskAsync(executionId);
        using (await host.Admin().PostAsync($"/api/executions/{resId}/resume", AppHost.Json("""{"acknowledged":true}"""))) { }
        await host.WaitForTaskAsync(executionId, "approve");
        var page = await Session.SignInAsync(browser, host, "kai");
        var link = page.GetByRole(AriaRole.Link, new() { Name = "Sign off budget" });
        await Assertions.Expect(link).ToBeVisibleAsync();

        // Tab until the task's link has focus, open it, type a comment, tab to Approve, press Enter.
        for (var i = 0; i < 40 && !await link.EvaluateAsync<bool>("e => e === document.activeElement"); i++)
        {
            await page.Keyboard.PressAsync("Tab");
        }

        await page.Keyboard.PressAsync("Enter");
        var comment = page.GetByLabel("Comment");
        await Assertions.Expect(comment).ToBeVisibleAsync();
        await comment.FocusAsync();
        await page.Keyboard.TypeAsync("fine by me");
        var approve = page.GetByRole(AriaRole.Button, new() { Name = "Approve" });
        for (var i = 0; i < 10 && !await approve.EvaluateAsync<bool>("e => e === document.activeElement"); i++)
        {
            await page.Keyboard.PressAsync("Tab");
        }

        await page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(page.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("You approved");
        var done = await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
        Assert.Equal("Approved", (string?)done["output"]!["ok"]);
    }

    [Fact]
    public async Task The_inbox_works_on_a_phone_in_dark_mode_and_history_and_the_timeline_show_what_happened()
    {
        await using var host = await HostWithPersonAsync("pia");
        var executionId = await host.StartRunAsync("doc-review", """{"doc":"roadmap"}""");
        await host.WaitForTaskAsync(executionId);
        var page = await Session.SignInAsync(browser, host, "pia", width: 390, height: 844, scheme: ColorScheme.Dark);

        var link = page.GetByRole(AriaRole.Link, new() { Name = "Read roadmap" });
        await Assertions.Expect(link).ToBeVisibleAsync();

        // No choice made in the app: the system's dark mode (the toggle offers light).
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Switch to light mode" })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("body")).ToHaveCSSAsync("background-color", "rgb(50, 51, 61)");
        var scrollWidth = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
        Assert.True(scrollWidth <= 390, $"the page is {scrollWidth}px wide on a 390px screen");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "inbox-phone-dark.png"), FullPage = true });

        await link.ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Acknowledge" }).ClickAsync();
        await Assertions.Expect(page.GetByText("Waiting: Sign off roadmap")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "task-phone-dark.png"), FullPage = true });

        await page.GotoAsync("/history");
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Read roadmap" })).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Read roadmap" }).ClickAsync();
        await Assertions.Expect(page.GetByTestId("run-status")).ToHaveTextAsync("Suspended");
        await Assertions.Expect(page.GetByRole(AriaRole.Img, new() { Name = "Timeline of 2 node runs" })).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "execution-phone-dark.png"), FullPage = true });
    }

    [Fact]
    public async Task Signing_out_ends_the_session()
    {
        await using var host = await HostWithPersonAsync("sam");
        var page = await Session.SignInAsync(browser, host, "sam");

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();

        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/signin"));
        await page.GotoAsync("/history");
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/signin"));
    }
}
