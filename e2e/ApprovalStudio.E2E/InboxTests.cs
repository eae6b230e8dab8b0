using System.Net;
using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>The inbox in Debian chromium against the real server: sign in, find, answer, follow.</summary>
public sealed class InboxTests(Browser browser, SharedHost shared) : IClassFixture<Browser>, IClassFixture<SharedHost>
{
    private const string Expense = """
        {"key":"expense","name":"Expense","start":"manager",
         "nodes":[{"id":"manager","type":"approval","title":"Approve {{input.amount}} EUR for {{input.employee}}","assignees":{"groups":["managers"]},"expiresAfter":"P2D"},
                  {"id":"book","type":"set","values":{"booked":"manager.decision == 'Approved'"}}],
         "edges":[{"from":"manager","to":"book"}]}
        """;

    private const string Onboarding = """
        {"key":"onboarding","name":"Onboarding","start":"details",
         "nodes":[{"id":"details","type":"form","title":"Details for {{input.name}}","assignees":{"groups":["hr"]},
                   "schema":{"type":"object","required":["department","startDate"],"properties":{
                     "department":{"type":"string","title":"Department","enum":["Engineering","Sales"]},
                     "startDate":{"type":"string","format":"date","title":"Start date"},
                     "salary":{"type":"integer","title":"Salary","minimum":0},
                     "remote":{"type":"boolean","title":"Remote"}}}},
                  {"id":"done","type":"set","values":{"summary":"details.department + ' from ' + details.startDate"}}],
         "edges":[{"from":"details","to":"done"}]}
        """;

    private const string Contract = """
        {"key":"contract","name":"Contract","start":"legal",
         "nodes":[{"id":"legal","type":"review","title":"Review the {{input.party}} contract","assignees":{"groups":["legal"]}}],"edges":[]}
        """;

    private static string Shot(string name) => Path.Combine(Browser.ArtifactsDirectory, name + ".png");

    [Fact]
    public async Task An_approver_signs_in_sees_the_task_approves_it_and_watches_the_run_finish()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Expense, tenant: tenant);
        await Session.AddPersonAsync(host, "mia", "managers", tenant: tenant);
        var executionId = await host.StartRunAsync("expense", """{"amount":1840,"employee":"Jane"}""", tenant: tenant);
        await host.WaitForTaskAsync(executionId, tenant: tenant);

        var page = await Session.SignInAsync(browser, host, $"mia@{tenant}");
        var link = page.GetByRole(AriaRole.Link, new() { Name = "Approve 1840 EUR for Jane" });
        await Assertions.Expect(link).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Shot("inbox"), FullPage = true });

        await link.ClickAsync();
        await page.GetByLabel("Comment").FillAsync("Receipts look right");
        await page.ScreenshotAsync(new() { Path = Shot("task-approval"), FullPage = true });
        await page.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();

        await Assertions.Expect(page.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("You approved");
        await Assertions.Expect(page.GetByText("Run completed")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Shot("task-resumed"), FullPage = true });
        var status = await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed", tenant: tenant);
        Assert.True((bool?)status["output"]!["booked"]);
        await using var db = host.Database.OpenContext();
        var audit = db.Audit.Single(a => a.ExecutionId == executionId);
        Assert.Equal(("mia", "inbox"), (audit.Actor, audit.Channel));
    }

    [Fact]
    public async Task A_form_shows_the_servers_field_error_at_the_field_and_accepts_the_fixed_answer()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Onboarding, tenant: tenant);
        await Session.AddPersonAsync(host, "hana", "hr", tenant: tenant);
        var executionId = await host.StartRunAsync("onboarding", """{"name":"Sam"}""", tenant: tenant);
        var resId = await host.WaitForTaskAsync(executionId, tenant: tenant);

        var page = await Session.SignInAsync(browser, host, $"hana@{tenant}", $"/tasks/{resId}");
        await page.GetByLabel("Start date").FillAsync("2026-06-01");
        await page.GetByLabel("Salary").FillAsync("-5");
        await page.GetByRole(AriaRole.Button, new() { Name = "Submit" }).ClickAsync();

        await Assertions.Expect(page.Locator("#field-salary").GetByText("Salary must be at least 0.")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#field-department").GetByText("Department is required.")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Shot("task-form-errors"), FullPage = true });

        // As a person does: type, leave the field, pick from the list and let it close, then submit.
        await page.GetByLabel("Salary").FillAsync("52000");
        await page.GetByLabel("Salary").PressAsync("Tab");
        await page.GetByLabel("Department").ClickAsync();
        await page.GetByRole(AriaRole.Option, new() { Name = "Engineering" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Option, new() { Name = "Engineering" })).ToBeHiddenAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Submit" }).ClickAsync();

        try
        {
            await Assertions.Expect(page.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("You submitted");
        }
        catch (PlaywrightException)
        {
            // This step failed twice in CI and never locally: keep what the page and the server saw for the next look.
            await page.ScreenshotAsync(new() { Path = Shot("task-form-second-submit-failed"), FullPage = true });
            var status = await host.StatusAsync(executionId, tenant: tenant);
            throw new Xunit.Sdk.XunitException($"No outcome after the second submit; run status: {status.ToJsonString()}");
        }

        var done = await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed", tenant: tenant);
        Assert.Equal("Engineering from 2026-06-01", (string?)done["output"]!["summary"]);
    }

    [Fact]
    public async Task A_task_answered_by_someone_else_meanwhile_says_who_already_answered()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Contract, tenant: tenant);
        await Session.AddPersonAsync(host, "lena", "legal", tenant: tenant);
        var executionId = await host.StartRunAsync("contract", """{"party":"Acme"}""", tenant: tenant);
        var resId = await host.WaitForTaskAsync(executionId, tenant: tenant);

        var page = await Session.SignInAsync(browser, host, $"lena@{tenant}", $"/tasks/{resId}");
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Acknowledge" })).ToBeVisibleAsync();
        using (var other = await host.Client(host.Token("otto", ["legal"], tenant: tenant)).PostAsync($"/api/executions/{resId}/resume", AppHost.Json("""{"acknowledged":true}""")))
        {
            Assert.Equal(HttpStatusCode.Accepted, other.StatusCode);
        }

        // The open page updates itself: no need to click to learn that someone else answered.
        var status = page.GetByRole(AriaRole.Status, new() { Name = "Outcome" });
        await Assertions.Expect(status).ToContainTextAsync("Answered by otto via api");
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Acknowledge" })).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task A_user_of_another_tenant_never_sees_the_task()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Contract, tenant: tenant);
        var globex = shared.NewTenant();
        await Session.AddPersonAsync(host, "gus", "legal", tenant: globex);
        var executionId = await host.StartRunAsync("contract", """{"party":"Initech"}""", tenant: tenant);
        var resId = await host.WaitForTaskAsync(executionId, tenant: tenant);

        var page = await Session.SignInAsync(browser, host, $"gus@{globex}");
        await Assertions.Expect(page.GetByText("Nothing is waiting for you.")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Review the Initech contract" })).ToHaveCountAsync(0);

        await page.GotoAsync($"/tasks/{resId}");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Task not found" })).ToBeVisibleAsync();
    }

    [Fact]
    public async Task A_task_of_ones_tenant_that_is_not_ones_own_says_so_and_an_expired_one_says_when()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Contract, tenant: tenant);
        await host.CreateWorkflowAsync("""
            {"key":"hurry","start":"ask","nodes":[{"id":"ask","type":"review","title":"Hurry","assignees":{"groups":["legal"]},"expiresAfter":"PT1S"}],"edges":[]}
            """, tenant: tenant);
        await Session.AddPersonAsync(host, "lena", "legal", tenant: tenant);
        await Session.AddPersonAsync(host, "sal", "sales", tenant: tenant);
        var contract = await host.WaitForTaskAsync(await host.StartRunAsync("contract", """{"party":"Acme"}""", tenant: tenant), tenant: tenant);
        var hurryRun = await host.StartRunAsync("hurry", tenant: tenant);
        var hurry = await host.WaitForTaskAsync(hurryRun, tenant: tenant);

        var sal = await Session.SignInAsync(browser, host, $"sal@{tenant}", $"/tasks/{contract}");
        await Assertions.Expect(sal.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("not yours");
        await Assertions.Expect(sal.GetByRole(AriaRole.Button, new() { Name = "Acknowledge" })).ToHaveCountAsync(0);

        await host.WaitForAsync(hurryRun, s => (string?)s["status"] == "Failed", tenant: tenant);
        var lena = await Session.SignInAsync(browser, host, $"lena@{tenant}", $"/tasks/{hurry}");
        await Assertions.Expect(lena.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("expired");
        await Assertions.Expect(lena.GetByRole(AriaRole.Button, new() { Name = "Acknowledge" })).ToHaveCountAsync(0);
    }
}
