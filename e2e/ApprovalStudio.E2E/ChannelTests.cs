using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>
/// Answering where people already are: the email a real SMTP server received carries a link that chromium
/// follows to Approve; the Slack message of another assignee then shows who answered, through its own link.
/// </summary>
public sealed partial class ChannelTests(Browser browser) : IClassFixture<Browser>
{
    private const string Expense = """
        {"key":"expense","start":"manager",
         "nodes":[{"id":"manager","type":"approval","title":"Approve {{input.amount}} EUR for {{input.reason}}","assignees":{"groups":["managers"]},"expiresAfter":"P1D"},
                  {"id":"book","type":"set","values":{"booked":"manager.decision","by":"manager.actor"}}],
         "edges":[{"from":"manager","to":"book"}]}
        """;

    [GeneratedRegex(@"https?://\S+/links/[A-Za-z0-9_\-\.]+")]
    private static partial Regex LinkPattern();

    [Fact]
    public async Task The_emailed_link_opens_the_task_decides_nothing_until_approve_is_pressed_and_then_slacks_link_shows_who_answered()
    {
        await using var channels = await Channels.StartAsync();
        await channels.Host.CreateWorkflowAsync(Expense);
        await channels.AddPersonAsync("mia", ["managers"], email: "mia@acme.test");
        await channels.AddPersonAsync("max", ["managers"], slackUserId: "U0MAX");
        var run = await channels.Host.StartRunAsync("expense", """{"amount":640,"reason":"a conference"}""");

        var email = await channels.Smtp!.WaitForAsync("mia@acme.test");
        var link = LinkPattern().Match(email.TextBody ?? string.Empty).Value;
        Assert.False(string.IsNullOrEmpty(link), email.TextBody);
        var slack = await channels.Slack.WaitForPostAsync(p => (string?)p["channel"] == "U0MAX");
        var slackLink = (string)slack["blocks"]!.AsArray().Single(b => (string?)b!["type"] == "actions")!["elements"]!.AsArray()
            .Single(e => (string?)e!["action_id"] == "open")!["url"]!;

        // A mail scanner fetches the link first: nothing is decided.
        using (var scanner = new HttpClient())
        {
            Assert.Equal(HttpStatusCode.OK, (await scanner.GetAsync(link)).StatusCode);
        }

        var page = await browser.Chromium.NewPageAsync();
        await page.GotoAsync(link);
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Approve 640 EUR for a conference" })).ToBeVisibleAsync();
        await page.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        Assert.Equal("Suspended", (string?)(await channels.Host.StatusAsync(run))["status"]);

        await page.GetByLabel("Comment").FillAsync("Approved from my inbox");
        await page.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("Resuming");
        var done = await channels.Host.WaitForAsync(run, s => (string?)s["status"] == "Completed");
        Assert.Equal(("Approved", "mia"), ((string?)done["output"]!["booked"], (string?)done["output"]!["by"]));
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "email-link-approved.png"), FullPage = true });

        // Max's Slack link, after Mia answered by email: the 409 outcome, naming her and the channel.
        var late = await browser.Chromium.NewPageAsync();
        await late.GotoAsync(slackLink);
        var outcome = late.GetByRole(AriaRole.Status, new() { Name = "Outcome" });
        await Assertions.Expect(outcome).ToContainTextAsync("already");
        await Assertions.Expect(outcome).ToContainTextAsync("Mia");
        await Assertions.Expect(outcome).ToContainTextAsync("email");
        await Assertions.Expect(late.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToHaveCountAsync(0);
        await late.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "slack-link-already-answered.png"), FullPage = true });
    }

    [Fact]
    public async Task An_admin_sees_on_the_run_page_what_was_sent_about_it_and_what_keeps_failing_and_others_do_not()
    {
        // Slack keeps failing; with the tests' retries every 0.2–0.5 s the default 8 attempts would be used up (Failed) before a
        // slow machine has shown the page, and the row must still be the one that "keeps failing" (Pending) when it is looked at.
        await using var channels = await Channels.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Notifications:MaxAttempts"] = "100", ["Notifications:BaseBackoff"] = "00:00:01", ["Notifications:MaxBackoff"] = "00:00:02",
        });
        channels.Slack.FailNextPosts = 100_000;
        await channels.Host.CreateWorkflowAsync(Expense);
        await channels.AddPersonAsync("mia", ["managers"], email: "mia@acme.test");
        await channels.AddPersonAsync("max", ["managers"], slackUserId: "U0MAX");
        await Session.AddPersonAsync(channels.Host, "ada", "ops", admin: true);
        await Session.AddPersonAsync(channels.Host, "bob", "managers");
        var run = await channels.Host.StartRunAsync("expense", """{"amount":90,"reason":"books"}""");
        await channels.WaitForNotificationsAsync(run, r =>
            r.Any(n => n.Channel == "email" && n.Status == "Sent") && r.Any(n => n.Channel == "slack" && n.Attempts >= 1));

        var page = await Session.SignInAsync(browser, channels.Host, "ada", $"/executions/{run}");
        var table = page.GetByRole(AriaRole.Region, new() { Name = "Messages about this run" });
        // Kinds, channels and recipients in words: "New task by Email", to "Mia" (the directory's name).
        var email = table.GetByRole(AriaRole.Row).Filter(new() { HasText = "New task by Email" });
        await Assertions.Expect(email).ToContainTextAsync("Mia");
        await Assertions.Expect(email).ToContainTextAsync("Sent");
        var slack = table.GetByRole(AriaRole.Row).Filter(new() { HasText = "New task by Slack" });
        await Assertions.Expect(slack).ToContainTextAsync("Max");
        await Assertions.Expect(slack).ToContainTextAsync("Pending");
        await Assertions.Expect(slack).ToContainTextAsync("503");
        await Assertions.Expect(table).Not.ToContainTextAsync("mia@acme.test");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "run-messages.png"), FullPage = true });

        var approver = await Session.SignInAsync(browser, channels.Host, "bob", $"/executions/{run}");
        await Assertions.Expect(approver.GetByTestId("run-status")).ToBeVisibleAsync();
        await Assertions.Expect(approver.GetByRole(AriaRole.Region, new() { Name = "Messages about this run" })).ToHaveCountAsync(0);
    }
}
