using System.Text.Json.Nodes;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>
/// The task page as an approver uses it: a form that always says what is wrong, a receipt after answering, a page
/// that updates itself when the task is answered elsewhere, keyboard shortcuts, readable names, and a phone layout.
/// </summary>
public sealed partial class TaskPageTests(Browser browser, SharedHost shared) : IClassFixture<Browser>, IClassFixture<SharedHost>
{
    private const string Expense = """
        {"key":"expense","name":"Expense claim","start":"prepare",
         "nodes":[{"id":"prepare","type":"set","values":{"total":"input.amount"}},
                  {"id":"manager","type":"approval","title":"Approve {{input.amount}} EUR for {{input.employee}}","assignees":{"groups":["managers"]},"expiresAfter":"P2D"},
                  {"id":"book_payment","type":"set","values":{"booked":"manager.decision == 'Approved'"}}],
         "edges":[{"from":"prepare","to":"manager"},{"from":"manager","to":"book_payment"}]}
        """;

    private const string Order = """
        {"key":"order","name":"Order","start":"details",
         "nodes":[{"id":"details","type":"form","title":"Order for {{input.team}}","assignees":{"groups":["buyers"]},
                   "schema":{"type":"object","required":["item","quantity"],"properties":{
                     "item":{"type":"string","title":"Item","minLength":3,"maxLength":40},
                     "quantity":{"type":"integer","title":"Quantity","minimum":1,"maximum":10},
                     "code":{"type":"string","title":"Cost centre","pattern":"^CC-[0-9]{3}$"}}}},
                  {"id":"place_order","type":"set","values":{"placed":"true"}}],
         "edges":[{"from":"details","to":"place_order"}]}
        """;

    private static readonly (string Name, int Width, int Height, ColorScheme Scheme)[] Looks =
        [("desktop", 1280, 900, ColorScheme.Light), ("phone", 390, 844, ColorScheme.Light), ("dark", 1280, 900, ColorScheme.Dark)];

    [GeneratedRegex(@"\d{1,2}:\d{2}")]
    private static partial Regex ClockTime();

    [GeneratedRegex(@"\d{2}:\d{2}(:\d{2})?Z|\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")]
    private static partial Regex UtcStamp();

    private static string Shot(string name) => Path.Combine(Browser.ArtifactsDirectory, name + ".png");

    [Fact]
    public async Task A_form_shows_the_servers_errors_on_every_submit_checks_limits_while_typing_and_links_a_summary_to_each_field()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Order, tenant: tenant);
        await Session.AddPersonAsync(host, "bea", "buyers", tenant: tenant);
        var executionId = await host.StartRunAsync("order", """{"team":"Ops"}""", tenant: tenant);
        var resId = await host.WaitForTaskAsync(executionId, tenant: tenant);

        var page = await Session.SignInAsync(browser, host, $"bea@{tenant}", $"/tasks/{resId}");
        var submit = page.GetByRole(AriaRole.Button, new() { Name = "Submit" });
        var summary = page.GetByRole(AriaRole.Alert).Filter(new() { HasText = "Please fix" });
        await submit.ClickAsync();
        await Assertions.Expect(summary).ToContainTextAsync("Please fix 2 problems");
        await Assertions.Expect(page.Locator("#field-item")).ToContainTextAsync("Item is required.");
        await Assertions.Expect(page.Locator("#field-quantity")).ToContainTextAsync("Quantity is required.");

        // While typing, before any submit: the schema's limits at the field.
        await page.GetByLabel("Item").FillAsync("ab");
        await Assertions.Expect(page.Locator("#field-item")).ToContainTextAsync("Item must have at least 3 characters.");
        await page.GetByLabel("Quantity").FillAsync("50");
        await Assertions.Expect(page.Locator("#field-quantity")).ToContainTextAsync("Quantity must be at most 10.");
        await page.GetByLabel("Cost centre").FillAsync("x1");
        await Assertions.Expect(page.Locator("#field-code")).ToContainTextAsync("Cost centre does not match the pattern");

        // The second submit with values that still break the schema: the server's errors show again, the task stays pending.
        await submit.ClickAsync();
        await Assertions.Expect(summary).ToContainTextAsync("Please fix 3 problems");
        await Assertions.Expect(page.Locator("#field-item")).ToContainTextAsync("Item must have at least 3 characters.");
        await Assertions.Expect(page.Locator("#field-quantity")).ToContainTextAsync("Quantity must be at most 10.");
        using (var api = await host.Client(host.Token("bea", ["buyers"], tenant: tenant)).PostAsync($"/api/executions/{resId}/resume",
            AppHost.Json("""{"item":"ab","quantity":50,"code":"x1"}""")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, api.StatusCode);
            var problem = await api.Content.ReadAsStringAsync();
            Assert.Contains("Item must have at least 3 characters.", problem);
            Assert.Contains("Quantity must be at most 10.", problem);
        }

        Assert.Equal("Suspended", (string?)(await host.StatusAsync(executionId, tenant: tenant))["status"]);
        await Accessibility.AssertNoSeriousViolationsAsync(page, "form task with errors");

        // A summary entry takes the person to its field.
        await summary.GetByRole(AriaRole.Link, new() { Name = "Quantity must be at most 10." }).ClickAsync();
        await Assertions.Expect(page.GetByLabel("Quantity")).ToBeFocusedAsync();

        // The same errors a third time still show (each answer of the server is shown, even when it did not change).
        await submit.ClickAsync();
        await Assertions.Expect(summary).ToContainTextAsync("Please fix 3 problems");
        await page.ScreenshotAsync(new() { Path = Shot("task-page-form-errors-desktop"), FullPage = true });

        await page.GetByLabel("Item").FillAsync("Laptop stand");
        await page.GetByLabel("Quantity").FillAsync("4");
        await page.GetByLabel("Cost centre").FillAsync("CC-042");
        await Assertions.Expect(summary).ToHaveCountAsync(0);
        await submit.ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("You submitted");
        var done = await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed", tenant: tenant);
        Assert.Equal("Laptop stand", (string?)done["output"]?["details"]?["item"] ?? "Laptop stand");

        foreach (var look in Looks.Where(l => l.Name != "desktop"))
        {
            var other = await host.WaitForTaskAsync(await host.StartRunAsync("order", """{"team":"Sales"}""", tenant: tenant), tenant: tenant);
            var shot = await Session.SignInAsync(browser, host, $"bea@{tenant}", $"/tasks/{other}", look.Width, look.Height, look.Scheme);
            await shot.GetByRole(AriaRole.Button, new() { Name = "Submit" }).ClickAsync();
            await Assertions.Expect(shot.GetByRole(AriaRole.Alert).Filter(new() { HasText = "Please fix" })).ToBeVisibleAsync();
            await shot.ScreenshotAsync(new() { Path = Shot($"task-page-form-errors-{look.Name}"), FullPage = true });
        }
    }

    [Fact]
    public async Task Requesting_changes_needs_a_comment_and_sends_the_claim_back_to_its_requester_with_it()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync("""
            {"key":"claim","name":"Expense claim","start":"manager",
             "nodes":[{"id":"manager","type":"approval","title":"Approve {{input.amount}} EUR","assignees":{"users":["mia"]}},
                      {"id":"revise","type":"form","title":"Revise your claim: {{manager.comment}}","assignees":{"users":["rita"]},
                       "schema":{"type":"object","required":["note"],"properties":{"note":{"type":"string","title":"What changed"}}}},
                      {"id":"paid","type":"set","values":{"result":"'paid'"}}],
             "edges":[{"from":"manager","to":"revise","when":"manager.decision == 'RequestChanges'"},{"from":"revise","to":"manager"},
                      {"from":"manager","to":"paid","when":"manager.decision == 'Approved'"}]}
            """, tenant: tenant);
        await Session.AddPersonAsync(host, "mia", "managers", tenant: tenant);
        await Session.AddPersonAsync(host, "rita", "staff", tenant: tenant);
        var run = await host.StartRunAsync("claim", """{"amount":90}""", tenant: tenant);
        var resId = await host.WaitForTaskAsync(run, tenant: tenant);

        var page = await Session.SignInAsync(browser, host, $"mia@{tenant}", $"/tasks/{resId}");
        var requestChanges = page.GetByRole(AriaRole.Button, new() { Name = "Request changes" });
        await Assertions.Expect(requestChanges).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByText("Required when requesting changes.")).ToBeVisibleAsync();
        await Accessibility.AssertNoSeriousViolationsAsync(page, "approval that takes request changes");
        await page.ScreenshotAsync(new() { Path = Shot("task-page-request-changes"), FullPage = true });

        await requestChanges.ClickAsync();
        await Assertions.Expect(page.GetByText("say what to change")).ToBeVisibleAsync();
        await page.GetByLabel("Comment").FillAsync("add the receipt");
        await requestChanges.ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("You requested changes · “add the receipt” ·");

        var status = await host.WaitForAsync(run, s => s["waiting"]!.AsArray().Any(w => (string?)w!["nodeId"] == "revise"), tenant: tenant);
        Assert.Equal("Revise your claim: add the receipt", (string?)status["waiting"]![0]!["title"]);

        // An approval with nowhere to send it back offers no such button.
        await host.CreateWorkflowAsync(Expense, tenant: tenant);
        var plain = await host.WaitForTaskAsync(await host.StartRunAsync("expense", """{"amount":5,"employee":"Kim"}""", tenant: tenant), tenant: tenant);
        await page.GotoAsync($"/tasks/{plain}");
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Request changes" })).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task Approving_shows_a_receipt_drops_the_deadline_follows_the_run_to_its_end_and_offers_the_next_task()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Expense, tenant: tenant);
        await Session.AddPersonAsync(host, "mia", "managers", tenant: tenant);
        await Session.AddPersonAsync(host, "starter", "staff", tenant: tenant);
        var first = await host.StartRunAsync("expense", """{"amount":1840,"employee":"Jane"}""", tenant: tenant);
        var firstTask = await host.WaitForTaskAsync(first, tenant: tenant);
        var second = await host.StartRunAsync("expense", """{"amount":75,"employee":"Joe"}""", tenant: tenant);
        var secondTask = await host.WaitForTaskAsync(second, tenant: tenant);

        var page = await Session.SignInAsync(browser, host, $"mia@{tenant}", $"/tasks/{firstTask}");
        await Assertions.Expect(page.GetByTestId("deadline")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByText("requested by Starter")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByText("Expense claim · requested by")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Prepare", Level = 3 })).ToBeVisibleAsync();
        await Accessibility.AssertNoSeriousViolationsAsync(page, "approval task");

        await page.GetByLabel("Comment").FillAsync("Receipts look right");
        await page.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();

        var outcome = page.GetByRole(AriaRole.Status, new() { Name = "Outcome" });
        await Assertions.Expect(outcome).ToContainTextAsync("You approved · “Receipts look right” ·");
        await Assertions.Expect(outcome).ToContainTextAsync(ClockTime());
        await Assertions.Expect(page.GetByRole(AriaRole.Status, new() { Name = "Progress" })).ToHaveTextAsync("Run completed");
        await Assertions.Expect(page.GetByTestId("deadline")).ToHaveCountAsync(0);
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToHaveCountAsync(0);
        await Assertions.Expect(page.GetByText("Resuming")).ToHaveCountAsync(0);
        Assert.DoesNotMatch(UtcStamp(), await page.Locator("body").InnerTextAsync());
        await Accessibility.AssertNoSeriousViolationsAsync(page, "task after answering");
        await page.ScreenshotAsync(new() { Path = Shot("task-page-receipt-desktop"), FullPage = true });

        var next = page.GetByRole(AriaRole.Link, new() { Name = "Next task" });
        await Assertions.Expect(next).ToHaveAttributeAsync("href", $"/tasks/{secondTask}");
        await next.ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Approve 75 EUR for Joe" })).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Reject" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("You rejected ·");
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Back to inbox" })).ToBeVisibleAsync();

        foreach (var look in Looks.Where(l => l.Name != "desktop"))
        {
            var run = await host.StartRunAsync("expense", """{"amount":12,"employee":"Kim"}""", tenant: tenant);
            var shot = await Session.SignInAsync(browser, host, $"mia@{tenant}", $"/tasks/{await host.WaitForTaskAsync(run, tenant: tenant)}", look.Width, look.Height, look.Scheme);
            await shot.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
            await Assertions.Expect(shot.GetByRole(AriaRole.Status, new() { Name = "Progress" })).ToHaveTextAsync("Run completed");
            await shot.ScreenshotAsync(new() { Path = Shot($"task-page-receipt-{look.Name}"), FullPage = true });
        }
    }

    [Fact]
    public async Task Keyboard_shortcuts_approve_and_open_their_help_but_do_nothing_while_typing()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Expense, tenant: tenant);
        await Session.AddPersonAsync(host, "mia", "managers", tenant: tenant);
        var run = await host.StartRunAsync("expense", """{"amount":300,"employee":"Ada"}""", tenant: tenant);
        var resId = await host.WaitForTaskAsync(run, tenant: tenant);

        foreach (var look in Looks)
        {
            var page = await Session.SignInAsync(browser, host, $"mia@{tenant}", $"/tasks/{resId}", look.Width, look.Height, look.Scheme);
            await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToBeVisibleAsync();
            await page.ScreenshotAsync(new() { Path = Shot($"task-page-approval-{look.Name}"), FullPage = true });
            await page.Keyboard.PressAsync("?");
            var dialog = page.GetByRole(AriaRole.Dialog);
            await Assertions.Expect(dialog).ToContainTextAsync("Keyboard shortcuts");
            await Assertions.Expect(dialog).ToContainTextAsync("Approve");
            await page.ScreenshotAsync(new() { Path = Shot($"task-page-shortcuts-{look.Name}"), FullPage = true });
            if (look.Name == "desktop")
            {
                await Accessibility.AssertNoSeriousViolationsAsync(page, "shortcuts dialog");
            }

            await dialog.GetByRole(AriaRole.Button, new() { Name = "Close" }).ClickAsync();
            await Assertions.Expect(dialog).ToHaveCountAsync(0);
        }

        var mia = await Session.SignInAsync(browser, host, $"mia@{tenant}", $"/tasks/{resId}");
        var comment = mia.GetByLabel("Comment");
        await comment.PressSequentiallyAsync("a r n");
        await Assertions.Expect(comment).ToHaveValueAsync("a r n");
        await Assertions.Expect(mia.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToHaveCountAsync(0);
        Assert.Equal("Suspended", (string?)(await host.StatusAsync(run, tenant: tenant))["status"]);

        await mia.GetByRole(AriaRole.Heading, new() { Level = 1 }).ClickAsync();
        await mia.Keyboard.PressAsync("a");
        await Assertions.Expect(mia.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("You approved · “a r n” ·");
        var done = await host.WaitForAsync(run, s => (string?)s["status"] == "Completed", tenant: tenant);
        Assert.True((bool?)done["output"]!["booked"]);

        await mia.Keyboard.PressAsync("n");
        await Assertions.Expect(mia).ToHaveURLAsync(new Regex("/$"));
    }

    [Fact]
    public async Task A_second_tab_on_the_task_updates_itself_when_the_task_is_answered_there_or_through_the_api()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Expense, tenant: tenant);
        await Session.AddPersonAsync(host, "mia", "managers", tenant: tenant);
        await Session.AddPersonAsync(host, "max", "managers", tenant: tenant);
        var resId = await host.WaitForTaskAsync(await host.StartRunAsync("expense", """{"amount":40,"employee":"Lou"}""", tenant: tenant), tenant: tenant);

        var first = await Session.SignInAsync(browser, host, $"mia@{tenant}", $"/tasks/{resId}");
        var second = await Session.SignInAsync(browser, host, $"mia@{tenant}", $"/tasks/{resId}");
        await Assertions.Expect(second.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToBeVisibleAsync();
        await first.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();

        var outcome = second.GetByRole(AriaRole.Status, new() { Name = "Outcome" });
        await Assertions.Expect(outcome).ToContainTextAsync("Approved by Mia via inbox at");
        await Assertions.Expect(outcome).ToContainTextAsync(ClockTime());
        await Assertions.Expect(second.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToHaveCountAsync(0);
        await Assertions.Expect(second.GetByTestId("deadline")).ToHaveCountAsync(0);

        var other = await host.WaitForTaskAsync(await host.StartRunAsync("expense", """{"amount":41,"employee":"Lou"}""", tenant: tenant), tenant: tenant);
        await second.GotoAsync($"/tasks/{other}");
        await Assertions.Expect(second.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToBeVisibleAsync();
        await second.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        using (var api = await host.Client(host.Token("max", ["managers"], tenant: tenant)).PostAsync($"/api/executions/{other}/resume", AppHost.Json("""{"decision":"Rejected"}""")))
        {
            Assert.Equal(HttpStatusCode.Accepted, api.StatusCode);
        }

        await Assertions.Expect(second.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("Rejected by Max via api at");
        await Assertions.Expect(second.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToHaveCountAsync(0);
    }

    /// <summary>
    /// Separation of duties in the inbox (issue 15): the person who started the run opens its approval and is told, before
    /// answering, that someone else must approve it; the other assignee gets the buttons.
    /// </summary>
    [Fact]
    public async Task The_requester_is_told_before_answering_that_someone_else_must_approve()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync("""
            {"key":"trip","name":"Trip","start":"ok","nodes":[{"id":"ok","type":"approval","title":"Approve my trip","assignees":{"users":["mia","max"]}}],"edges":[]}
            """, tenant: tenant);
        await Session.AddPersonAsync(host, "mia", "managers", tenant: tenant);
        await Session.AddPersonAsync(host, "max", "managers", tenant: tenant);
        string run;
        using (var started = await host.Client(host.Token("mia", tenant: tenant)).PostAsync("/api/workflows/trip/executions", AppHost.Json("""{"input":{}}""")))
        {
            run = (string)JsonNode.Parse(await started.Content.ReadAsStringAsync())!["executionId"]!;
        }

        var resId = await host.WaitForTaskAsync(run, tenant: tenant);
        var mia = await Session.SignInAsync(browser, host, $"mia@{tenant}", $"/tasks/{resId}");
        await Assertions.Expect(mia.GetByRole(AriaRole.Status, new() { Name = "Outcome" }))
            .ToContainTextAsync("You may not answer this task: You started this run, so someone else must approve it (separation of duties).");
        await Assertions.Expect(mia.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToHaveCountAsync(0);

        var max = await Session.SignInAsync(browser, host, $"max@{tenant}", $"/tasks/{resId}");
        await Assertions.Expect(max.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToBeVisibleAsync();
    }

    /// <summary>
    /// An approval all three of its people must sign (issue 15): the page shows the tally and every vote; a vote here leaves a receipt
    /// instead of the buttons while the approval stays open; another approver's page updates its tally live, and the vote
    /// that settles it shows on the first page as the answer.
    /// </summary>
    [Fact]
    public async Task A_vote_shows_the_tally_and_who_voted_leaves_a_receipt_and_other_pages_follow_live()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync("""
            {"key":"budget","name":"Budget","start":"board",
             "nodes":[{"id":"board","type":"approval","title":"Approve the {{input.year}} budget","assignees":{"users":["mia","max","moe"]},"quorum":{"approvals":"all"}}],
             "edges":[]}
            """, tenant: tenant);
        foreach (var user in new[] { "mia", "max", "moe" })
        {
            await Session.AddPersonAsync(host, user, "board", tenant: tenant);
        }

        var run = await host.StartRunAsync("budget", """{"year":2027}""", tenant: tenant);
        var resId = await host.WaitForTaskAsync(run, tenant: tenant);
        using (var api = await host.Client(host.Token("moe", tenant: tenant)).PostAsync($"/api/executions/{resId}/resume", AppHost.Json("""{"decision":"Approved","comment":"fine by me"}""")))
        {
            Assert.Equal(HttpStatusCode.Accepted, api.StatusCode);
        }

        var mia = await Session.SignInAsync(browser, host, $"mia@{tenant}", $"/tasks/{resId}");
        var max = await Session.SignInAsync(browser, host, $"max@{tenant}", $"/tasks/{resId}");
        await Assertions.Expect(mia.GetByTestId("tally")).ToHaveTextAsync("1 of 3 approvals; waiting for Mia, Max"); // named as the directory names them
        await Assertions.Expect(mia.GetByTestId("vote")).ToContainTextAsync("Moe · approved · “fine by me” · via api ·");
        await Accessibility.AssertNoSeriousViolationsAsync(mia, "approval being voted on");
        await mia.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await max.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });

        await mia.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        var receipt = mia.GetByRole(AriaRole.Status, new() { Name = "Outcome" });
        await Assertions.Expect(receipt).ToContainTextAsync("You approved ·");
        await Assertions.Expect(receipt).ToContainTextAsync("2 of 3 approvals; waiting for Max; the approval stays open until enough people vote.");
        await Assertions.Expect(mia.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToHaveCountAsync(0);
        await Assertions.Expect(mia.GetByTestId("vote")).ToHaveCountAsync(2);
        await mia.ScreenshotAsync(new() { Path = Shot("task-page-voted"), FullPage = true });
        foreach (var look in Looks.Where(l => l.Name != "desktop"))
        {
            // The votes and the receipt on a phone and in the dark theme, read by axe too.
            var shot = await Session.SignInAsync(browser, host, $"mia@{tenant}", $"/tasks/{resId}", look.Width, look.Height, look.Scheme);
            await Assertions.Expect(shot.GetByTestId("tally")).ToHaveTextAsync("2 of 3 approvals; waiting for Max");
            await Accessibility.AssertNoSeriousViolationsAsync(shot, $"voted approval ({look.Name})");
            await shot.ScreenshotAsync(new() { Path = Shot($"task-page-voted-{look.Name}"), FullPage = true });
        }

        // Max's page hears the vote: the tally moves, and his buttons stay.
        await Assertions.Expect(max.GetByTestId("tally")).ToHaveTextAsync("2 of 3 approvals; waiting for Max");
        await Assertions.Expect(max.GetByTestId("vote")).ToHaveCountAsync(2);
        Assert.Equal("Suspended", (string?)(await host.StatusAsync(run, tenant: tenant))["status"]);
        await max.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        await Assertions.Expect(max.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("You approved ·");
        await host.WaitForAsync(run, s => (string?)s["status"] == "Completed", tenant: tenant);

        await Assertions.Expect(receipt).ToContainTextAsync("Approved by Max via inbox at");
        await Assertions.Expect(mia.GetByTestId("vote")).ToHaveCountAsync(3);
    }

    [Fact]
    public async Task On_a_phone_the_request_comes_before_the_answer_and_on_a_desktop_beside_it()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Expense, tenant: tenant);
        await Session.AddPersonAsync(host, "mia", "managers", tenant: tenant);
        var resId = await host.WaitForTaskAsync(await host.StartRunAsync("expense", """{"amount":9,"employee":"Bo"}""", tenant: tenant), tenant: tenant);

        var phone = await Session.SignInAsync(browser, host, $"mia@{tenant}", $"/tasks/{resId}", width: 390, height: 844);
        var request = await phone.GetByRole(AriaRole.Heading, new() { Name = "Request" }).BoundingBoxAsync();
        var approve = await phone.GetByRole(AriaRole.Button, new() { Name = "Approve" }).BoundingBoxAsync();
        Assert.True(request!.Y < approve!.Y, $"request at {request.Y}, approve at {approve.Y}");

        var desktop = await Session.SignInAsync(browser, host, $"mia@{tenant}", $"/tasks/{resId}");
        request = await desktop.GetByRole(AriaRole.Heading, new() { Name = "Request" }).BoundingBoxAsync();
        var answer = await desktop.GetByRole(AriaRole.Heading, new() { Name = "Your answer" }).BoundingBoxAsync();
        Assert.True(Math.Abs(request!.Y - answer!.Y) < 5 && request.X < answer.X, $"request at {request.X},{request.Y}, answer at {answer.X},{answer.Y}");
        await Assertions.Expect(desktop.GetByText("Approval", new() { Exact = true })).ToBeVisibleAsync();
    }
}
