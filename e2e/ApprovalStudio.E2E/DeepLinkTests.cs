using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>Deep links: a signed link answers one task for one person without signing in; opening it decides nothing.</summary>
public sealed class DeepLinkTests(Browser browser, SharedHost shared) : IClassFixture<Browser>, IClassFixture<SharedHost>
{
    private const string Expense = """
        {"key":"expense","start":"manager",
         "nodes":[{"id":"manager","type":"approval","title":"Approve {{input.amount}} EUR","assignees":{"groups":["managers"]},"expiresAfter":"P1D"},
                  {"id":"book","type":"set","values":{"booked":"manager.decision"}}],
         "edges":[{"from":"manager","to":"book"}]}
        """;

    private static async Task<string> LinkAsync(AppHost host, string tenant, string resId, string userId)
    {
        using var response = await host.Admin(tenant).PostAsync($"/api/tasks/{resId}/links", AppHost.Json($$"""{"userId":"{{userId}}"}"""));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        return (string)JsonNode.Parse(body)!["url"]!;
    }

    private async Task<IPage> OpenAsync(string url)
    {
        var page = await browser.Chromium.NewPageAsync();
        await page.GotoAsync(url);
        return page;
    }

    [Fact]
    public async Task Opening_a_link_decides_nothing_and_pressing_approve_resumes_the_run_as_the_recipient()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Expense, tenant: tenant);
        await Session.AddPersonAsync(host, "mia", "managers", tenant: tenant);
        var run = await host.StartRunAsync("expense", """{"amount":90}""", tenant: tenant);
        var resId = await host.WaitForTaskAsync(run, tenant: tenant);
        var url = await LinkAsync(host, tenant, resId, "mia");

        var page = await OpenAsync(url);
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Approve 90 EUR" })).ToBeVisibleAsync();
        await page.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        using (var prefetch = new HttpClient())
        {
            Assert.Equal(HttpStatusCode.OK, (await prefetch.GetAsync(url)).StatusCode);
        }

        Assert.Equal("Suspended", (string?)(await host.StatusAsync(run, tenant: tenant))["status"]);
        await page.GetByLabel("Comment").FillAsync("ok from my mail");
        await page.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();

        await Assertions.Expect(page.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("Resuming");
        var done = await host.WaitForAsync(run, s => (string?)s["status"] == "Completed", tenant: tenant);
        Assert.Equal("Approved", (string?)done["output"]!["booked"]);
        await using var db = host.Database.OpenContext();
        var audit = db.Audit.Single(a => a.ExecutionId == run);
        Assert.Equal(("mia", "email"), (audit.Actor, audit.Channel));
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "deep-link-approved.png"), FullPage = true });
    }

    /// <summary>Separation of duties through a link (issue 15): the requester's own link is refused with the reason, 403.</summary>
    [Fact]
    public async Task The_requesters_own_link_says_someone_else_must_approve()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Expense.Replace("\"key\":\"expense\"", "\"key\":\"own\"", StringComparison.Ordinal), tenant: tenant);
        await Session.AddPersonAsync(host, "mia", "managers", tenant: tenant);
        string run;
        using (var started = await host.Client(host.Token("mia", ["managers"], tenant: tenant)).PostAsync("/api/workflows/own/executions", AppHost.Json("""{"input":{"amount":7}}""")))
        {
            run = (string)JsonNode.Parse(await started.Content.ReadAsStringAsync())!["executionId"]!;
        }

        var url = await LinkAsync(host, tenant, await host.WaitForTaskAsync(run, tenant: tenant), "mia");
        using (var http = new HttpClient())
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync(url)).StatusCode);
        }

        var page = await OpenAsync(url);
        await Assertions.Expect(page.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("(separation of duties)");
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToHaveCountAsync(0);
    }

    /// <summary>An approval two people must sign, answered from email links (issue 15): the first vote leaves the tally, the second settles it.</summary>
    [Fact]
    public async Task A_vote_from_a_link_shows_the_tally_and_a_second_visit_shows_the_vote_not_the_buttons()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Expense.Replace("\"key\":\"expense\"", "\"key\":\"pair\"", StringComparison.Ordinal)
            .Replace("\"expiresAfter\":\"P1D\"", "\"quorum\":{\"approvals\":2}", StringComparison.Ordinal), tenant: tenant);
        await Session.AddPersonAsync(host, "mia", "managers", tenant: tenant);
        await Session.AddPersonAsync(host, "max", "managers", tenant: tenant);
        var run = await host.StartRunAsync("pair", """{"amount":300}""", tenant: tenant);
        var resId = await host.WaitForTaskAsync(run, tenant: tenant);
        var miaLink = await LinkAsync(host, tenant, resId, "mia");

        var page = await OpenAsync(miaLink);
        await Assertions.Expect(page.GetByTestId("tally")).ToHaveTextAsync("0 of 2 approvals");
        await page.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await page.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("Your vote counts: 1 of 2 approvals.");
        await Assertions.Expect(page.GetByTestId("vote")).ToContainTextAsync("Mia · approved · via email");
        await Accessibility.AssertNoSeriousViolationsAsync(page, "deep link after a vote");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "deep-link-voted.png"), FullPage = true });

        var again = await OpenAsync(miaLink);
        await Assertions.Expect(again.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("You approved ·");
        await Assertions.Expect(again.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToHaveCountAsync(0);

        var maxPage = await OpenAsync(await LinkAsync(host, tenant, resId, "max"));
        await maxPage.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await maxPage.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        await Assertions.Expect(maxPage.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("Resuming");
        var done = await host.WaitForAsync(run, s => (string?)s["status"] == "Completed", tenant: tenant);
        Assert.Equal("Approved", (string?)done["output"]!["booked"]);
    }

    [Fact]
    public async Task A_second_link_after_the_first_answer_shows_who_answered_and_a_tampered_link_is_refused()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Expense, tenant: tenant);
        await Session.AddPersonAsync(host, "mia", "managers", tenant: tenant);
        await Session.AddPersonAsync(host, "max", "managers", tenant: tenant);
        var run = await host.StartRunAsync("expense", """{"amount":12}""", tenant: tenant);
        var resId = await host.WaitForTaskAsync(run, tenant: tenant);
        var miaLink = await LinkAsync(host, tenant, resId, "mia");
        var maxLink = await LinkAsync(host, tenant, resId, "max");

        var mia = await OpenAsync(miaLink);
        await mia.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await mia.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        await Assertions.Expect(mia.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("Resuming");

        var max = await OpenAsync(maxLink);
        var outcome = max.GetByRole(AriaRole.Status, new() { Name = "Outcome" });
        await Assertions.Expect(outcome).ToContainTextAsync("already");
        await Assertions.Expect(outcome).ToContainTextAsync("Mia");
        await Assertions.Expect(max.GetByRole(AriaRole.Button, new() { Name = "Approve" })).ToHaveCountAsync(0);

        var tampered = await OpenAsync(maxLink[..^3] + (maxLink.EndsWith("AAA", StringComparison.Ordinal) ? "BBB" : "AAA"));
        await Assertions.Expect(tampered.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("not valid");
    }

    [Fact]
    public async Task An_expired_link_says_so_and_links_are_only_for_assignees()
    {
        // A host of its own on a clock that moves only when told. It starts at the real now and moves by seconds, so the bearer
        // tokens (issued, and checked by the JWT handler, on the real clock) stay valid.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await AppHost.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        var tenant = AppHost.Tenant;
        await host.CreateWorkflowAsync(Expense.Replace("P1D", "PT2S", StringComparison.Ordinal), tenant: tenant);
        await Session.AddPersonAsync(host, "mia", "managers", tenant: tenant);
        await Session.AddPersonAsync(host, "sal", "sales", tenant: tenant);
        var run = await host.StartRunAsync("expense", """{"amount":5}""", tenant: tenant);
        var resId = await host.WaitForTaskAsync(run, tenant: tenant);
        var url = await LinkAsync(host, tenant, resId, "mia");

        using (var notAssignee = await host.Admin(tenant).PostAsync($"/api/tasks/{resId}/links", AppHost.Json("""{"userId":"sal"}""")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, notAssignee.StatusCode);
            Assert.Contains("userId", await notAssignee.Content.ReadAsStringAsync());
        }

        using (var member = await host.Client(host.Token("mia", ["managers"], tenant: tenant)).PostAsync($"/api/tasks/{resId}/links", AppHost.Json("""{"userId":"mia"}""")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, member.StatusCode);
        }

        clock.Advance(TimeSpan.FromSeconds(2.5));
        var page = await OpenAsync(url);
        await Assertions.Expect(page.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToContainTextAsync("expired");
        await page.CloseAsync(); // before its host stops, which would otherwise wait up to 3 s for the page's connection to go
    }
}
