using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>The inbox list as an approver reads it: names not ids, empty states, a stable order, and a phone's compact list.</summary>
public sealed class InboxListTests(Browser browser, SharedHost shared) : IClassFixture<Browser>, IClassFixture<SharedHost>
{
    private const string Expense = """
        {"key":"expense","name":"Expense","start":"manager",
         "nodes":[{"id":"manager","type":"approval","title":"Approve {{input.amount}} EUR for {{input.employee}}","assignees":{"groups":["managers"]},"expiresAfter":"P2D"}],
         "edges":[]}
        """;

    private const string Onboarding = """
        {"key":"onboarding","name":"Onboarding","start":"details",
         "nodes":[{"id":"details","type":"form","title":"Details for {{input.name}}","assignees":{"groups":["managers"]},"expiresAfter":"PT2H",
                   "schema":{"type":"object","properties":{"department":{"type":"string","title":"Department"}}}}],
         "edges":[]}
        """;

    private const string Agent = """
        {"key":"agent","name":"Research agent","start":"lookup",
         "nodes":[{"id":"lookup","type":"toolCall","title":"Look up {{input.topic}}","tools":[{"name":"search","arguments":{"q":"{{input.topic}}"}}]}],
         "edges":[]}
        """;

    /// <summary>Starts a run as a person of the directory (the requester the inbox names).</summary>
    private static async Task<string> StartAsAsync(AppHost host, string user, string key, string input, string tenant)
    {
        var (status, body, _) = await AppHost.SendAsync(host.Client(host.Token(user, tenant: tenant)), HttpMethod.Post, $"/api/workflows/{key}/executions", $$"""{"input":{{input}}}""");
        Assert.Equal(HttpStatusCode.Accepted, status);
        return (string)body!["executionId"]!;
    }

    [Fact]
    public async Task Rows_name_people_workflows_and_kinds_in_words_and_a_search_without_matches_offers_to_clear_the_filters()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Expense, tenant: tenant);
        await host.CreateWorkflowAsync(Onboarding, tenant: tenant);
        await host.CreateWorkflowAsync(Agent, tenant: tenant);
        await Session.AddPersonAsync(host, "mia", "managers", admin: true, tenant: tenant);
        using (var person = await host.Admin(tenant).PutAsync("/api/users/jdoe", AppHost.Json("""{"name":"Jane Doe","groups":["staff"]}""")))
        {
            Assert.True(person.IsSuccessStatusCode);
        }

        await host.WaitForTaskAsync(await StartAsAsync(host, "jdoe", "expense", """{"amount":1840,"employee":"Jane"}""", tenant: tenant), tenant: tenant);
        await host.WaitForTaskAsync(await StartAsAsync(host, "jdoe", "onboarding", """{"name":"Sam"}""", tenant: tenant), tenant: tenant);
        await host.WaitForTaskAsync(await host.StartRunAsync("agent", """{"topic":"tariffs"}""", tenant: tenant), tenant: tenant);

        var page = await Viewer.SignInAsync(browser, host, $"mia@{tenant}");
        var table = page.GetByRole(AriaRole.Table, new() { Name = "Pending tasks" });
        var expense = table.GetByRole(AriaRole.Row).Filter(new() { HasText = "Approve 1840 EUR for Jane" });
        await Assertions.Expect(expense).ToContainTextAsync("Jane Doe");
        await Assertions.Expect(expense).ToContainTextAsync("Expense");
        await Assertions.Expect(expense).Not.ToContainTextAsync("jdoe");
        await Assertions.Expect(expense).Not.ToContainTextAsync("expense");
        await Assertions.Expect(table.GetByRole(AriaRole.Row).Filter(new() { HasText = "Look up tariffs" })).ToContainTextAsync("Research agent");
        await Assertions.Expect(table.Locator("svg title").Filter(new() { HasText = "Tool call" })).ToHaveCountAsync(1);
        await Assertions.Expect(table.Locator("svg title").Filter(new() { HasText = "Form" })).ToHaveCountAsync(1);
        await Assertions.Expect(table).Not.ToContainTextAsync("UserForm");

        // Times are the viewer's: "3 min ago" with the whole date, zone and UTC on hover; never a machine's timestamp.
        var age = expense.Locator("time").First;
        await Assertions.Expect(age).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("ago$"));
        await Assertions.Expect(age).ToHaveAttributeAsync("title", new System.Text.RegularExpressions.Regex("Europe/Berlin"));
        Assert.DoesNotMatch(Viewer.MachineTime(), await page.Locator(".mud-main-content").InnerTextAsync());
        await Accessibility.AssertNoSeriousViolationsAsync(page, "inbox with rows");
        await page.ScreenshotAsync(new() { Path = Viewer.Shot("inbox-desktop"), FullPage = true });

        // The kind filter shows kinds in words and filters on the stored kind.
        var kind = page.GetByLabel("Kind");
        await Assertions.Expect(kind.Locator("option")).ToHaveTextAsync(["Any kind", "Approval", "Form", "Review", "Wait", "Tool call"]);
        await kind.SelectOptionAsync(new SelectOptionValue { Label = "Form" });
        await Assertions.Expect(kind).ToHaveValueAsync("UserForm");
        await Assertions.Expect(table.GetByRole(AriaRole.Link)).ToHaveTextAsync(["Details for Sam"]);

        // The workflow filter offers names.
        await Assertions.Expect(page.GetByLabel("Workflow").Locator("option", new() { HasText = "Research agent" })).ToHaveCountAsync(1);

        // A search that finds nothing says so and offers to clear search and filters together.
        await page.GetByLabel("Search").FillAsync("nothing like this");
        var empty = page.GetByTestId("inbox-empty");
        await Assertions.Expect(empty).ToContainTextAsync("No task matches");
        await Assertions.Expect(page.GetByText("Nothing is waiting for you.")).ToHaveCountAsync(0);
        await Assertions.Expect(table).ToBeHiddenAsync();
        await Accessibility.AssertNoSeriousViolationsAsync(page, "inbox, no task matches");
        await page.ScreenshotAsync(new() { Path = Viewer.Shot("inbox-no-match"), FullPage = true });

        await empty.GetByRole(AriaRole.Button, new() { Name = "Clear filters" }).ClickAsync();
        await Assertions.Expect(table.GetByRole(AriaRole.Link)).ToHaveCountAsync(3);
        await Assertions.Expect(page.GetByLabel("Search")).ToHaveValueAsync("");
        await Assertions.Expect(page.GetByLabel("Kind")).ToHaveValueAsync("");
        await Assertions.Expect(empty).ToHaveCountAsync(0);

        var dark = await Viewer.SignInAsync(browser, host, $"mia@{tenant}", scheme: ColorScheme.Dark);
        await Assertions.Expect(dark.GetByRole(AriaRole.Link, new() { Name = "Look up tariffs" })).ToBeVisibleAsync();
        await Accessibility.AssertNoSeriousViolationsAsync(dark, "inbox, dark");
        await dark.ScreenshotAsync(new() { Path = Viewer.Shot("inbox-desktop-dark"), FullPage = true });
    }

    [Fact]
    public async Task The_rows_of_the_first_html_stay_on_screen_while_the_circuit_starts_and_reads_again()
    {
        // On PostgreSQL: SQLite's reads complete synchronously, so a circuit on it renders only once it has read.
        await using var host = await AppHost.StartAsync(Provider.Postgres);
        var tenant = AppHost.Tenant;
        await host.CreateWorkflowAsync(Expense, tenant: tenant);
        await Session.AddPersonAsync(host, "mia", "managers", tenant: tenant);
        for (var i = 1; i <= 3; i++)
        {
            await host.WaitForTaskAsync(await StartAsAsync(host, "mia", "expense", $$"""{"amount":{{i}},"employee":"Kim"}""", tenant: tenant), tenant: tenant);
        }

        var page = await Viewer.SignInAsync(browser, host, $"mia@{tenant}");

        // From the first HTML on, the fewest rows the table had at any moment: the circuit's first render replaces the
        // prerendered markup, and without the prerender's rows carried into it the table would be empty until it had read.
        await page.AddInitScriptAsync("""
            document.addEventListener("DOMContentLoaded", () => {
              const count = () => document.querySelectorAll("table[aria-label='Pending tasks'] tbody tr").length;
              window.__fewestRows = count();
              new MutationObserver(() => { window.__fewestRows = Math.min(window.__fewestRows, count()); })
                .observe(document.body, { subtree: true, childList: true });
            });
            """);
        await page.ReloadAsync();
        await page.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        var links = page.GetByRole(AriaRole.Table, new() { Name = "Pending tasks" }).GetByRole(AriaRole.Link);
        await Assertions.Expect(links).ToHaveCountAsync(3);
        await page.WaitForTimeoutAsync(500); // the circuit's own read lands meanwhile
        Assert.Equal(3, await page.EvaluateAsync<int>("() => window.__fewestRows"));
    }

    [Fact]
    public async Task An_empty_inbox_says_nothing_is_waiting_and_offers_no_filters_to_clear()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Expense, tenant: tenant);
        await Session.AddPersonAsync(host, "olga", "ops", tenant: tenant);

        var page = await Viewer.SignInAsync(browser, host, $"olga@{tenant}");

        await Assertions.Expect(page.GetByText("Nothing is waiting for you.")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Clear filters" })).ToHaveCountAsync(0);
        await Assertions.Expect(page.GetByText("No task matches")).ToHaveCountAsync(0);
    }

    /// <summary>An approval being voted on that the viewer has voted on stays in their inbox, marked as waiting for the others (issue 15).</summary>
    [Fact]
    public async Task An_approval_you_voted_on_is_marked_as_waiting_for_the_others()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync("""
            {"key":"board","name":"Board","start":"sign","nodes":[{"id":"sign","type":"approval","title":"Sign {{input.n}}","assignees":{"users":["olga","otto"]},"quorum":{"approvals":2}}],"edges":[]}
            """, tenant: tenant);
        await Session.AddPersonAsync(host, "olga", "ops", tenant: tenant);
        var voted = await host.WaitForTaskAsync(await host.StartRunAsync("board", """{"n":"one"}""", tenant: tenant), tenant: tenant);
        await host.WaitForTaskAsync(await host.StartRunAsync("board", """{"n":"two"}""", tenant: tenant), tenant: tenant);
        using (var vote = await host.Client(host.Token("olga", tenant: tenant)).PostAsync($"/api/executions/{voted}/resume", AppHost.Json("""{"decision":"Approved"}""")))
        {
            Assert.Equal(HttpStatusCode.Accepted, vote.StatusCode);
        }

        var page = await Viewer.SignInAsync(browser, host, $"olga@{tenant}");

        var rows = page.GetByRole(AriaRole.Table, new() { Name = "Pending tasks" }).GetByRole(AriaRole.Row);
        await Assertions.Expect(rows.Filter(new() { HasText = "Sign one" }).GetByTestId("inbox-voted")).ToHaveTextAsync("Voted");
        await Assertions.Expect(rows.Filter(new() { HasText = "Sign two" }).GetByTestId("inbox-voted")).ToHaveCountAsync(0);
        await Accessibility.AssertNoSeriousViolationsAsync(page, "inbox with a voted approval");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "inbox-voted.png") });

        // On a phone, the compact list carries the mark too.
        await page.SetViewportSizeAsync(390, 844);
        var items = page.GetByTestId("inbox-compact").GetByRole(AriaRole.Listitem);
        await Assertions.Expect(items.Filter(new() { HasText = "Sign one" }).GetByTestId("inbox-voted")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "inbox-voted-phone.png") });
    }

    /// <summary>A clock that only knows whole seconds: every task of a step is made in the same instant.</summary>
    private sealed class WholeSeconds : TimeProvider
    {
        public override DateTimeOffset GetUtcNow()
        {
            var now = System.GetUtcNow();
            return new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
        }
    }

    [Fact]
    public async Task Tasks_made_in_the_same_second_are_listed_newest_first_every_time()
    {
        await using var host = await AppHost.StartAsync(services: s => s.AddSingleton<TimeProvider>(new WholeSeconds()));
        await host.CreateWorkflowAsync("""
            {"key":"batch","name":"Invoices","start":"each",
             "nodes":[{"id":"each","type":"forEach","items":"input.items","body":"ask"},
                      {"id":"ask","type":"approval","title":"Approve invoice {{item}}","assignees":{"groups":["managers"]}}],
             "edges":[]}
            """);
        await Session.AddPersonAsync(host, "mia", "managers");
        var executionId = await host.StartRunAsync("batch", """{"items":[1,2,3,4,5,6,7]}""");
        await host.WaitForAsync(executionId, s => s["waiting"]!.AsArray().Count == 7);
        await using (var db = host.Database.OpenContext())
        {
            var made = db.Tasks.Where(t => t.ExecutionId == executionId).Select(t => t.CreatedAt).ToList();
            Assert.True(made.Distinct().Count() <= 2, "the tasks were meant to share their second: " + string.Join(", ", made));
        }

        string[] newest = [.. Enumerable.Range(1, 7).Reverse().Select(i => $"Approve invoice {i}")];
        var page = await Viewer.SignInAsync(browser, host, "mia");
        var links = page.GetByRole(AriaRole.Table, new() { Name = "Pending tasks" }).GetByRole(AriaRole.Link);
        await Assertions.Expect(links).ToHaveTextAsync(newest);
        for (var i = 0; i < 2; i++)
        {
            await page.ReloadAsync();
            await Assertions.Expect(links).ToHaveTextAsync(newest);
        }

        await page.GetByLabel("Sort").SelectOptionAsync(new SelectOptionValue { Label = "Oldest first" });
        await Assertions.Expect(links).ToHaveTextAsync([.. newest.Reverse()]);
    }

    [Fact]
    public async Task On_a_phone_the_inbox_is_a_compact_list_and_the_filters_wait_behind_a_button()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Expense, tenant: tenant);
        await host.CreateWorkflowAsync(Onboarding, tenant: tenant);
        await Session.AddPersonAsync(host, "mia", "managers", tenant: tenant);
        using (var person = await host.Admin(tenant).PutAsync("/api/users/jdoe", AppHost.Json("""{"name":"Jane Doe","groups":["staff"]}""")))
        {
            Assert.True(person.IsSuccessStatusCode);
        }

        for (var i = 1; i <= 8; i++)
        {
            await host.WaitForTaskAsync(await StartAsAsync(host, "jdoe", "expense", $$"""{"amount":{{i * 100}},"employee":"Employee number {{i}} with a long name"}""", tenant: tenant), tenant: tenant);
        }

        await host.WaitForTaskAsync(await StartAsAsync(host, "jdoe", "onboarding", """{"name":"Sam"}""", tenant: tenant), tenant: tenant);

        var page = await Viewer.SignInAsync(browser, host, $"mia@{tenant}", width: 390, height: 844);
        var list = page.GetByRole(AriaRole.List, new() { Name = "Pending tasks" });
        var items = list.GetByRole(AriaRole.Listitem);
        await Assertions.Expect(items).ToHaveCountAsync(9);
        await Assertions.Expect(page.GetByRole(AriaRole.Table, new() { Name = "Pending tasks" })).ToBeHiddenAsync();

        // Two lines a task: the title, then who asked and the time left.
        var first = items.First;
        await Assertions.Expect(first.GetByRole(AriaRole.Link)).ToHaveTextAsync("Details for Sam");
        await Assertions.Expect(first).ToContainTextAsync("Jane Doe · 1 h left");
        var boxes = await Task.WhenAll((await items.AllAsync()).Select(i => i.BoundingBoxAsync()));
        Assert.All(boxes, b => Assert.InRange(b!.Height, 40, 72));
        var onFirstScreen = boxes.Count(b => b!.Y + b.Height <= 844);
        Assert.True(onFirstScreen >= 6, $"only {onFirstScreen} tasks on the first screen");
        await Viewer.AssertFitsAsync(page, 390);

        // The search stays in view; the filters wait behind a button.
        await Assertions.Expect(page.GetByLabel("Search")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByLabel("Kind")).ToBeHiddenAsync();
        var filters = page.GetByRole(AriaRole.Button, new() { Name = "Filters" });
        await Assertions.Expect(filters).ToHaveAttributeAsync("aria-expanded", "false");
        await Accessibility.AssertNoSeriousViolationsAsync(page, "inbox on a phone");
        await page.ScreenshotAsync(new() { Path = Viewer.Shot("inbox-phone"), FullPage = false });

        await filters.ClickAsync();
        await Assertions.Expect(filters).ToHaveAttributeAsync("aria-expanded", "true");
        await page.GetByLabel("Kind").SelectOptionAsync(new SelectOptionValue { Label = "Form" });
        await Assertions.Expect(items).ToHaveCountAsync(1);
        await Assertions.Expect(filters).ToHaveTextAsync("Filters (1)");
        await Viewer.AssertFitsAsync(page, 390);
        await page.ScreenshotAsync(new() { Path = Viewer.Shot("inbox-phone-filters"), FullPage = false });

        // The whole row opens the task.
        await first.ClickAsync(new() { Position = new() { X = 300, Y = 40 } });
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/tasks/"));

        var dark = await Viewer.SignInAsync(browser, host, $"mia@{tenant}", width: 390, height: 844, scheme: ColorScheme.Dark);
        await Assertions.Expect(dark.GetByRole(AriaRole.List, new() { Name = "Pending tasks" }).GetByRole(AriaRole.Listitem)).ToHaveCountAsync(9);
        await Accessibility.AssertNoSeriousViolationsAsync(dark, "inbox on a phone, dark");
        await dark.ScreenshotAsync(new() { Path = Viewer.Shot("inbox-compact-phone-dark"), FullPage = false });
    }
}
