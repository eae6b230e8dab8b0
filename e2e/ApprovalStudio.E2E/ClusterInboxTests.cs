using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>
/// The inbox behind a load balancer: Debian's nginx in front of two instances on one PostgreSQL database and Redis, as
/// docs/deploy.md sets it up. A person signs in and answers in chromium while their page, asset and form requests
/// alternate instances (only the Blazor circuit is sticky), and sees the run finish that either instance continued.
/// </summary>
public sealed partial class ClusterInboxTests(Browser browser) : IClassFixture<Browser>
{
    private const string Expense = """
        {"key":"expense","name":"Expense claim","start":"manager",
         "nodes":[{"id":"manager","type":"approval","title":"Approve {{input.amount}} EUR for {{input.employee}}","assignees":{"groups":["managers"]}},
                  {"id":"booked","type":"set","values":{"booked":"manager.decision == 'Approved'"}}],
         "edges":[{"from":"manager","to":"booked"}]}
        """;

    [GeneratedRegex(@" (\d+\.\d+\.\d+\.\d+:\d+)$")]
    private static partial Regex Upstream();

    [Fact]
    public async Task Signed_in_through_the_balancer_a_person_answers_while_requests_alternate_instances_and_sees_the_run_finish()
    {
        var redis = Environment.GetEnvironmentVariable("APPROVALSTUDIO_TEST_REDIS");
        Assert.False(string.IsNullOrWhiteSpace(redis), "APPROVALSTUDIO_TEST_REDIS is not set. Run the tests with ./build/test.sh, which starts Redis and sets it.");
        await using var database = TestDatabase.Create(Provider.Postgres);
        var key = AppHost.NewSigningKey();
        var settings = new Dictionary<string, string?> { ["Redis:Configuration"] = redis, ["ForwardedHeaders:Enabled"] = "true" };
        await using var first = await AppHost.StartAsync(Provider.Postgres, settings, database, key);
        await using var second = await AppHost.StartAsync(Provider.Postgres, settings, database, key);
        await using var balancer = await LoadBalancer.StartAsync([first.Address, second.Address]);
        await first.CreateWorkflowAsync(Expense);
        await Session.AddPersonAsync(first, "mia", "managers");
        var executionId = await second.StartRunAsync("expense", """{"amount":1840,"employee":"Jane"}""");
        await first.WaitForTaskAsync(executionId);

        var context = await browser.Chromium.NewContextAsync(new() { BaseURL = balancer.Address.ToString(), ViewportSize = new() { Width = 1280, Height = 900 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/signin"));
        await page.GetByLabel("User name").FillAsync("mia");
        await page.GetByLabel("Password").FillAsync(Session.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });

        var link = page.GetByRole(AriaRole.Link, new() { Name = "Approve 1840 EUR for Jane" });
        await Assertions.Expect(link).ToBeVisibleAsync();
        await link.ClickAsync();
        await page.GetByLabel("Comment").FillAsync("Receipts look right");
        await page.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("You approved");
        await Assertions.Expect(page.GetByText("Run completed")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "cluster-task-answered.png"), FullPage = true });

        // A full page load again (a new circuit): still signed in, on whichever instance it lands.
        await page.GotoAsync("/");
        await page.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await Assertions.Expect(page.GetByText("Nothing is waiting for you.")).ToBeVisibleAsync();

        var status = await first.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
        Assert.True((bool?)status["output"]!["booked"]);

        // Pages, scripts and the sign-in form went to both instances; the circuit's requests to one.
        var served = balancer.AccessLog.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => (Line: line, Upstream: Upstream().Match(line)))
            .Where(x => x.Upstream.Success)
            .ToList();
        var notCircuit = served.Where(x => !x.Line.Contains(" /_blazor", StringComparison.Ordinal)).Select(x => x.Upstream.Groups[1].Value).Distinct().ToList();
        Assert.True(notCircuit.Count == 2, "requests outside the circuit reached " + string.Join(", ", notCircuit) + "\n" + balancer.AccessLog);
        Assert.Contains(served, x => x.Line.StartsWith("POST /account/signin 302", StringComparison.Ordinal));
        await context.CloseAsync();
    }
}
