using System.Net;
using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>A run's page speaks in the workflow's and the nodes' own words: names and titles, not keys and ids.</summary>
public sealed class RunPageTests(Browser browser) : IClassFixture<Browser>
{
    private const string Expense = """
        {"key":"expense","name":"Expense","start":"prepare_claim",
         "nodes":[{"id":"prepare_claim","type":"set","values":{"total":"input.amount"}},
                  {"id":"manager","type":"approval","title":"Approve {{input.amount}} EUR for {{input.employee}}","assignees":{"groups":["managers"]}},
                  {"id":"receipts","type":"forEach","items":"input.receipts","body":"check"},
                  {"id":"check","type":"review","title":"Check the {{item}} receipt","assignees":{"groups":["managers"]}},
                  {"id":"book","type":"set","values":{"booked":"manager.decision == 'Approved'"}}],
         "edges":[{"from":"prepare_claim","to":"manager"},{"from":"manager","to":"receipts"},{"from":"receipts","to":"book"}]}
        """;

    private static async Task<(AppHost Host, string ExecutionId)> RunWaitingOnReceiptsAsync()
    {
        var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Expense);
        await Session.AddPersonAsync(host, "mia", "managers");
        using (var person = await host.Admin().PutAsync("/api/users/jdoe", AppHost.Json("""{"name":"Jane Doe","groups":["staff"]}""")))
        {
            Assert.True(person.IsSuccessStatusCode);
        }

        var (started, body, _) = await AppHost.SendAsync(host.Client(host.Token("jdoe")), HttpMethod.Post, "/api/workflows/expense/executions",
            """{"input":{"amount":120,"employee":"Jane","receipts":["hotel","train"]}}""");
        Assert.Equal(HttpStatusCode.Accepted, started);
        var executionId = (string)body!["executionId"]!;
        var resId = await host.WaitForTaskAsync(executionId, "manager");
        var (status, _, _) = await AppHost.SendAsync(host.Client(host.Token("mia", ["managers"])), HttpMethod.Post,
            $"/api/executions/{resId}/resume", """{"decision":"Approved","comment":"fine"}""");
        Assert.Equal(HttpStatusCode.Accepted, status);
        await host.WaitForAsync(executionId, s => s["waiting"]!.AsArray().Count == 2);
        return (host, executionId);
    }

    [Fact]
    public async Task The_run_page_names_the_workflow_the_starter_and_each_step_by_its_title()
    {
        var (host, executionId) = await RunWaitingOnReceiptsAsync();
        await using var _ = host;
        var page = await Viewer.SignInAsync(browser, host, "mia", $"/executions/{executionId}");

        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Expense", Exact = true, Level = 1 })).ToBeVisibleAsync();
        await Assertions.Expect(page).ToHaveTitleAsync("Expense run · Approval Studio");
        var started = page.GetByTestId("run-started");
        await Assertions.Expect(started).ToContainTextAsync("started by Jane Doe");
        await Assertions.Expect(started).Not.ToContainTextAsync("jdoe");
        await Assertions.Expect(started.Locator("time")).ToHaveAttributeAsync("title", new System.Text.RegularExpressions.Regex("Europe/Berlin"));

        // Steps by title: the task's own, rendered for this run; a node without one by its id in words; loop items numbered.
        await Assertions.Expect(page.GetByText("Prepare claim · Set values · Completed")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByText("Approve 120 EUR for Jane · Approval · Completed")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByText("Check the hotel receipt (item 1 of 2) · Review · Waiting")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByText("Check the train receipt (item 2 of 2) · Review · Waiting")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByText("Receipts · Loop · Running")).ToBeVisibleAsync();
        var timeline = page.GetByRole(AriaRole.Img, new() { Name = "Timeline of 5 node runs" });
        await Assertions.Expect(timeline).ToContainTextAsync("Approve 120 EUR for Jane");
        await Assertions.Expect(timeline).ToContainTextAsync("Prepare claim");
        await Assertions.Expect(timeline).Not.ToContainTextAsync("prepare_claim");
        var steps = await page.Locator(".mud-expand-panel-header").AllInnerTextsAsync();
        Assert.DoesNotContain(steps, s => s.Contains("manager", StringComparison.Ordinal) || s.Contains("receipts:", StringComparison.Ordinal));

        // Times are the viewer's, never a machine's timestamp.
        await page.GetByText("Approve 120 EUR for Jane · Approval · Completed").ClickAsync();
        await Assertions.Expect(page.GetByText("Started").First).ToBeVisibleAsync();
        Assert.DoesNotMatch(Viewer.MachineTime(), await page.Locator(".mud-main-content").InnerTextAsync());
        await Accessibility.AssertNoSeriousViolationsAsync(page, "run page");
        await page.ScreenshotAsync(new() { Path = Viewer.Shot("run-desktop"), FullPage = true });

        var phone = await Viewer.SignInAsync(browser, host, "mia", $"/executions/{executionId}", width: 390, height: 844);
        await Assertions.Expect(phone.GetByRole(AriaRole.Heading, new() { Name = "Expense", Exact = true, Level = 1 })).ToBeVisibleAsync();
        await Viewer.AssertFitsAsync(phone, 390);
        await Accessibility.AssertNoSeriousViolationsAsync(phone, "run page on a phone");
        await phone.ScreenshotAsync(new() { Path = Viewer.Shot("run-phone"), FullPage = true });

        var dark = await Viewer.SignInAsync(browser, host, "mia", $"/executions/{executionId}", scheme: ColorScheme.Dark);
        await Assertions.Expect(dark.GetByRole(AriaRole.Heading, new() { Name = "Expense", Exact = true, Level = 1 })).ToBeVisibleAsync();
        await Accessibility.AssertNoSeriousViolationsAsync(dark, "run page, dark");
        await dark.ScreenshotAsync(new() { Path = Viewer.Shot("run-desktop-dark"), FullPage = true });
    }
}
