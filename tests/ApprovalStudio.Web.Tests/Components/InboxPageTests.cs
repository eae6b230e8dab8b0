using System.Security.Claims;
using ApprovalStudio.Web.Components.Shared;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Inbox;
using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;

namespace ApprovalStudio.Web.Tests.Components;

/// <summary>The inbox list component over the real app's queries and SQLite file.</summary>
public sealed class InboxPageTests : MudTestContext
{
    private AppHost _host = null!;

    public override async Task InitializeAsync()
    {
        _host = await AppHost.StartAsync();
        await _host.CreateWorkflowAsync(Api.Flows.Review);
        await _host.CreateWorkflowAsync(Api.Flows.Form);
        await _host.WaitForTaskAsync(await _host.StartRunAsync("review-flow", """{"doc":"plan"}"""));
        await _host.WaitForTaskAsync(await _host.StartRunAsync("form-flow"));
        Services.AddSingleton(_host.Services.GetRequiredService<InboxQueries>());
        Services.AddSingleton(_host.Services.GetRequiredService<ExecutionEvents>());
        Services.AddSingleton(_host.Services.GetRequiredService<InboxFeed>());
        Services.AddSingleton(_host.Services.GetRequiredService<InboxRowCache>());
        Services.AddSingleton(TimeProvider.System);
        AddBunitPersistentComponentState();
    }

    protected override async Task DisposeTestAsync()
    {
        await base.DisposeTestAsync();
        await _host.DisposeAsync();
    }

    private void SignIn(string user, params string[] groups)
    {
        var auth = AddAuthorization();
        auth.SetAuthorized(user);
        auth.SetClaims([new Claim("sub", user), new Claim("tenant", AppHost.Tenant), .. groups.Select(g => new Claim("groups", g))]);

        // A live circuit (the prerender neither hears the feed nor needs to).
        SetRendererInfo(new RendererInfo("Server", isInteractive: true));
        Render<MudBlazor.MudPopoverProvider>();
    }

    [Fact]
    public void The_inbox_lists_the_actors_tasks_as_links_with_workflow_requester_and_deadline()
    {
        SignIn("zoe", "ops");

        var inbox = Render<InboxPage>();

        inbox.WaitForAssertion(() => Assert.Single(inbox.FindAll("tbody tr a")), TimeSpan.FromSeconds(10));
        var link = inbox.Find("tbody tr a");
        Assert.Equal("Look at plan", link.TextContent);
        Assert.StartsWith("/tasks/", link.GetAttribute("href"));
        var cells = inbox.FindAll("tbody tr td").Select(td => td.TextContent.Trim()).ToList();
        Assert.Contains("Review", cells); // the workflow's name, not its key "review-flow"
        Assert.Contains("starter", cells);
        Assert.Contains(cells, c => c.EndsWith("min left", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(390, true)]
    [InlineData(1280, false)]
    public async Task A_live_inbox_keeps_the_rows_of_the_layout_the_browser_shows_and_both_until_it_knows(int width, bool phone)
    {
        SignIn("zoe", "ops");
        var watch = JSInterop.Setup<int?>("approvalStudio.watchNarrow", _ => true);
        watch.SetResult(1);

        // Until the browser has said how wide it is, the circuit shows what the prerender showed: rows in both layouts.
        var inbox = Render<InboxPage>();
        inbox.WaitForAssertion(() => Assert.Single(inbox.FindAll("tbody tr a")), TimeSpan.FromSeconds(10));
        Assert.Single(inbox.FindAll("ul.inbox-compact li a"));
        Assert.Single(watch.Invocations); // the page asked the browser to tell it, once, when the window is narrow

        // Then the rows of the one it shows (CSS shows the phone's list below 600 px); the table's head and the pager stay.
        await inbox.InvokeAsync(() => inbox.Instance.OnNarrow(width < 600));
        inbox.WaitForAssertion(() => Assert.Empty(inbox.FindAll(phone ? "tbody tr" : "ul.inbox-compact li")), TimeSpan.FromSeconds(10));
        Assert.Equal("Look at plan", inbox.Find(phone ? "ul.inbox-compact li a" : "tbody tr a").TextContent);
        Assert.NotNull(inbox.Find("nav[aria-label='Pages']"));
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("0", false)]
    public void The_narrow_cookie_decides_the_layout_before_the_browser_is_asked(string cookie, bool phone)
    {
        SignIn("zoe", "ops");
        JSInterop.Setup<int?>("approvalStudio.watchNarrow", _ => true); // the browser never answers

        var inbox = Render<InboxPage>(p => p.AddCascadingValue(BrowserChoices.None with { Narrow = cookie }));

        inbox.WaitForAssertion(() => Assert.Equal("Look at plan", inbox.Find(phone ? "ul.inbox-compact li a" : "tbody tr a").TextContent), TimeSpan.FromSeconds(10));
        Assert.Empty(inbox.FindAll(phone ? "tbody tr" : "ul.inbox-compact li"));
    }

    [Fact]
    public void A_browser_without_the_narrow_watcher_keeps_the_inbox_working_in_the_cookies_layout()
    {
        // A page cached from before app.js had the watcher: the call fails, the circuit must not (an unhandled exception ends it).
        SignIn("zoe", "ops");
        JSInterop.Setup<int?>("approvalStudio.watchNarrow", _ => true).SetException(new Microsoft.JSInterop.JSException("approvalStudio.watchNarrow is not a function"));

        var inbox = Render<InboxPage>(p => p.AddCascadingValue(BrowserChoices.None with { Narrow = "0" }));

        inbox.WaitForAssertion(() => Assert.Equal("Look at plan", inbox.Find("tbody tr a").TextContent), TimeSpan.FromSeconds(10));
        Assert.Empty(inbox.FindAll("ul.inbox-compact li"));
    }

    [Fact]
    public void An_actor_with_nothing_to_answer_is_told_so()
    {
        SignIn("eve", "sales");

        var inbox = Render<InboxPage>();

        inbox.WaitForAssertion(() => Assert.Contains("Nothing is waiting for you.", inbox.Markup), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Open_inbox_pages_take_new_and_answered_tasks_from_the_feed_without_reading_the_list_again()
    {
        SignIn("zoe", "ops");
        var pages = Enumerable.Range(0, 10).Select(_ => Render<InboxPage>()).ToList();
        foreach (var page in pages)
        {
            page.WaitForAssertion(() => Assert.Single(page.FindAll("tbody tr a")), TimeSpan.FromSeconds(10));
        }

        using var sql = await SqlCommands.OnAsync(_host);
        var resId = await _host.WaitForTaskAsync(await _host.StartRunAsync("review-flow", """{"doc":"budget"}"""));
        foreach (var page in pages)
        {
            page.WaitForAssertion(() => Assert.Equal(["Look at budget", "Look at plan"], page.FindAll("tbody tr a").Select(a => a.TextContent)), TimeSpan.FromSeconds(10));
        }

        using (var answer = await _host.Admin().PostAsync($"/api/executions/{resId}/resume", AppHost.Json("""{"acknowledged":true}""")))
        {
            Assert.Equal(System.Net.HttpStatusCode.Accepted, answer.StatusCode);
        }

        foreach (var page in pages)
        {
            page.WaitForAssertion(() => Assert.Equal(["Look at plan"], page.FindAll("tbody tr a").Select(a => a.TextContent)), TimeSpan.FromSeconds(10));
        }

        // Ten open pages: no page read and no COUNT, one read of the new task's row for all of them (the host is the
        // class's: a task of an earlier test may still be arriving, with a read of its own row).
        Assert.Equal(0, sql.Count(InboxQueries.ListTag));
        Assert.Equal(0, sql.Count(InboxQueries.CountTag));
        Assert.Single(sql.Commands(InboxQueries.RowsTag), c => c.Parameters.Values.Any(v => v?.ToString()?.Contains(resId, StringComparison.Ordinal) == true));
    }

    [Fact]
    public async Task The_pager_moves_through_the_tasks_and_a_larger_page_keeps_the_first_task_shown()
    {
        for (var n = 1; n <= 29; n++)
        {
            await _host.WaitForTaskAsync(await _host.StartRunAsync("review-flow", $$"""{"doc":"doc {{n}}"}"""));
        }

        SignIn("zoe", "ops");
        var inbox = Render<InboxPage>();
        string[] Titles() => [.. inbox.FindAll("tbody tr a").Select(a => a.TextContent)];
        string Range() => inbox.Find(".inbox-pager-range").TextContent;
        AngleSharp.Dom.IElement Button(string name) => inbox.Find($"nav[aria-label='Pages'] button[aria-label='{name}']");

        inbox.WaitForAssertion(() => Assert.Equal(25, Titles().Length), TimeSpan.FromSeconds(10));
        Assert.Equal("Look at doc 29", Titles()[0]); // newest first
        Assert.Equal("1–25 of 30", Range());
        Assert.True(Button("Previous page").HasAttribute("disabled"));
        Assert.True(Button("First page").HasAttribute("disabled"));

        await Button("Next page").ClickAsync(new());
        inbox.WaitForAssertion(() => Assert.Equal(["Look at doc 4", "Look at doc 3", "Look at doc 2", "Look at doc 1", "Look at plan"], Titles()), TimeSpan.FromSeconds(10));
        Assert.Equal("26–30 of 30", Range());
        Assert.True(Button("Next page").HasAttribute("disabled"));
        Assert.True(Button("Last page").HasAttribute("disabled"));
        Assert.False(Button("Previous page").HasAttribute("disabled"));

        // 50 a page from the second page of 25: the first task shown (the 26th) is on the first page of 50.
        await inbox.Find("nav[aria-label='Pages'] select").ChangeAsync(new() { Value = "50" });
        inbox.WaitForAssertion(() => Assert.Equal(30, Titles().Length), TimeSpan.FromSeconds(10));
        Assert.Equal("1–30 of 30", Range());

        await inbox.Find("nav[aria-label='Pages'] select").ChangeAsync(new() { Value = "25" });
        inbox.WaitForAssertion(() => Assert.Equal(25, Titles().Length), TimeSpan.FromSeconds(10));
        await Button("Last page").ClickAsync(new());
        inbox.WaitForAssertion(() => Assert.Equal("26–30 of 30", Range()), TimeSpan.FromSeconds(10));
        await Button("First page").ClickAsync(new());
        inbox.WaitForAssertion(() => Assert.Equal("1–25 of 30", Range()), TimeSpan.FromSeconds(10));
    }
}
