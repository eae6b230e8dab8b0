using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>History: what you answered, newest first, paged by the server, searched and bounded by date.</summary>
public sealed class HistoryPageTests(Browser browser, SharedHost shared) : IClassFixture<Browser>, IClassFixture<SharedHost>
{
    private const string Expense = """
        {"key":"expense","name":"Travel expenses","start":"manager",
         "nodes":[{"id":"manager","type":"approval","title":"Approve {{input.amount}} EUR","assignees":{"groups":["managers"]}}],"edges":[]}
        """;

    private const string Onboarding = """
        {"key":"onboarding","name":"Onboarding","start":"details",
         "nodes":[{"id":"details","type":"form","title":"Details for {{input.name}}","assignees":{"groups":["managers"]},
                   "schema":{"type":"object","properties":{"department":{"type":"string","title":"Department"},"remote":{"type":"boolean","title":"Works remotely"}}}}],
         "edges":[]}
        """;

    /// <summary>Mia's 73 answers in a tenant of their own; returns the tenant.</summary>
    private async Task<string> AnswersAsync()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Expense, tenant);
        await host.CreateWorkflowAsync(Onboarding, tenant);
        await Session.AddPersonAsync(host, "mia", "managers", tenant);
        var mia = host.Client(host.Token("mia", ["managers"], tenant: tenant));
        async Task AnswerAsync(string key, string input, string answer)
        {
            var resId = await host.WaitForTaskAsync(await host.StartRunAsync(key, input, tenant), tenant: tenant);
            var (status, _, _) = await AppHost.SendAsync(mia, HttpMethod.Post, $"/api/executions/{resId}/resume", answer);
            Assert.Equal(HttpStatusCode.Accepted, status);
        }

        await AnswerAsync("expense", """{"amount":120}""", """{"decision":"Approved","comment":"Receipts look right"}""");
        await AnswerAsync("expense", """{"amount":999}""", """{"decision":"Rejected","comment":"No receipt for the hotel"}""");
        await AnswerAsync("onboarding", """{"name":"Sam"}""", """{"department":"Sales","remote":true}""");

        // 70 older answers of Mia's, one a day at noon UTC going back.
        var today = DateTime.UtcNow.Date;
        await using var db = host.Database.OpenContext();
        for (var i = 1; i <= 70; i++)
        {
            var at = today.AddDays(-i).AddHours(12);
            db.Tasks.Add(new TaskRecord
            {
                ResId = $"old-{tenant}-{i:D3}", ExecutionId = $"old-run-{tenant}-{i:D3}", TenantId = tenant, WorkflowKey = "expense", WorkflowVersion = 1,
                NodeId = "manager", StackJson = "[]", StackKey = string.Empty, Kind = "Approval", Title = $"Old claim {i}",
                Status = TaskStatuses.Resolved, CreatedAt = at.AddHours(-2), ResolvedAt = at, ResolvedBy = "mia", ResolvedByName = "Mia", Channel = "email",
                OutputJson = new JsonObject { ["decision"] = "Approved", ["comment"] = $"fine {i}", ["actor"] = "mia", ["at"] = at }.ToJsonString(),
            });
        }

        await db.SaveChangesAsync();
        return tenant;
    }

    [Fact]
    public async Task History_pages_through_73_answers_newest_first_in_plain_words_and_finds_by_comment_and_date()
    {
        var host = shared.Host;
        var tenant = await AnswersAsync();
        var page = await Viewer.SignInAsync(browser, host, $"mia@{tenant}", "/history");
        var table = page.GetByRole(AriaRole.Table, new() { Name = "Answered tasks" });
        var links = table.GetByRole(AriaRole.Link);
        await Assertions.Expect(links).ToHaveCountAsync(25);
        await Assertions.Expect(links.First).ToHaveTextAsync("Details for Sam");
        await Assertions.Expect(page.GetByText("1-25 of 73")).ToBeVisibleAsync();

        // Answers in words, workflows by name, times as the viewer reads them.
        var form = table.GetByRole(AriaRole.Row).Filter(new() { HasText = "Details for Sam" });
        await Assertions.Expect(form).ToContainTextAsync("Department: Sales, Works remotely: yes");
        await Assertions.Expect(form).ToContainTextAsync("API");
        var rejected = table.GetByRole(AriaRole.Row).Filter(new() { HasText = "Approve 999 EUR" });
        await Assertions.Expect(rejected).ToContainTextAsync("Rejected: No receipt for the hotel");
        await Assertions.Expect(rejected).ToContainTextAsync("Travel expenses");
        await Assertions.Expect(rejected.Locator("time")).ToHaveAttributeAsync("title", new System.Text.RegularExpressions.Regex("Europe/Berlin"));
        await Assertions.Expect(table.GetByRole(AriaRole.Row).Filter(new() { HasText = "Old claim 1" }).First).ToContainTextAsync("Email link");
        Assert.DoesNotMatch(Viewer.MachineTime(), await table.InnerTextAsync());
        await Accessibility.AssertNoSeriousViolationsAsync(page, "history");
        await page.ScreenshotAsync(new() { Path = Viewer.Shot("history-desktop"), FullPage = true });

        // The server pages: the third page holds the last 23, the oldest last.
        await page.GetByRole(AriaRole.Button, new() { Name = "Next page" }).ClickAsync();
        await Assertions.Expect(page.GetByText("26-50 of 73")).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Next page" }).ClickAsync();
        await Assertions.Expect(links).ToHaveCountAsync(23);
        await Assertions.Expect(links.Last).ToHaveTextAsync("Old claim 70");

        // Search finds a comment (and starts again at the first page).
        await page.GetByLabel("Search").FillAsync("hotel");
        await Assertions.Expect(links).ToHaveTextAsync(["Approve 999 EUR"]);
        await page.GetByLabel("Search").FillAsync("travel");
        await Assertions.Expect(page.GetByText("1-25 of 72")).ToBeVisibleAsync();

        // Dates: the answers of seven to three days ago.
        await page.GetByLabel("Search").FillAsync("");
        await Assertions.Expect(page.GetByText("1-25 of 73")).ToBeVisibleAsync();
        var today = DateTime.UtcNow.Date;
        await page.GetByLabel("Answered from").FillAsync(today.AddDays(-7).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        await page.GetByLabel("Answered from").PressAsync("Tab");
        await page.GetByLabel("Answered to").FillAsync(today.AddDays(-3).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        await page.GetByLabel("Answered to").PressAsync("Tab");
        await Assertions.Expect(links).ToHaveTextAsync(["Old claim 3", "Old claim 4", "Old claim 5", "Old claim 6", "Old claim 7"]);

        // Nothing in those days matches: say so, and clear search and dates together.
        await page.GetByLabel("Search").FillAsync("hotel");
        var empty = page.GetByTestId("history-empty");
        await Assertions.Expect(empty).ToContainTextAsync("No answer matches");
        await Accessibility.AssertNoSeriousViolationsAsync(page, "history, no answer matches");
        await empty.GetByRole(AriaRole.Button, new() { Name = "Clear filters" }).ClickAsync();
        await Assertions.Expect(page.GetByText("1-25 of 73")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByLabel("Answered from")).ToHaveValueAsync("");
        await Assertions.Expect(page.GetByLabel("Search")).ToHaveValueAsync("");
    }

    [Fact]
    public async Task History_reads_on_a_phone_and_in_dark_mode()
    {
        var host = shared.Host;
        var tenant = await AnswersAsync();

        var phone = await Viewer.SignInAsync(browser, host, $"mia@{tenant}", "/history", width: 390, height: 844);
        await Assertions.Expect(phone.GetByRole(AriaRole.Link, new() { Name = "Approve 999 EUR" })).ToBeVisibleAsync();
        await phone.ScreenshotAsync(new() { Path = Viewer.Shot("history-phone"), FullPage = false });
        await Viewer.AssertFitsAsync(phone, 390);
        await Accessibility.AssertNoSeriousViolationsAsync(phone, "history on a phone");

        var dark = await Viewer.SignInAsync(browser, host, $"mia@{tenant}", "/history", scheme: ColorScheme.Dark);
        await Assertions.Expect(dark.GetByRole(AriaRole.Link, new() { Name = "Approve 999 EUR" })).ToBeVisibleAsync();
        await Accessibility.AssertNoSeriousViolationsAsync(dark, "history, dark");
        await dark.ScreenshotAsync(new() { Path = Viewer.Shot("history-desktop-dark"), FullPage = true });
    }

    [Fact]
    public async Task Someone_who_answered_nothing_is_told_so()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await Session.AddPersonAsync(host, "newbie", "ops", tenant: tenant);
        var page = await Viewer.SignInAsync(browser, host, $"newbie@{tenant}", "/history");
        await Assertions.Expect(page.GetByText("You have not answered any task yet.")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Clear filters" })).ToHaveCountAsync(0);
    }
}
