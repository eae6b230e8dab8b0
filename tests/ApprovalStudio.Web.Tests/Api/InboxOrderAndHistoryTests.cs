using System.Net;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Inbox;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>
/// The inbox's order when tasks are made in the same instant, and the history's paging, search and dates,
/// against the real app on SQLite and PostgreSQL.
/// </summary>
public sealed class InboxOrderAndHistoryTests
{
    private static readonly Actor Ops = new(AppHost.Tenant, "zoe", "Zoe", new HashSet<string> { "ops" }, new HashSet<string>());
    private static readonly Actor Mia = new(AppHost.Tenant, "mia", "Mia", new HashSet<string> { "managers" }, new HashSet<string>());

    /// <summary>A clock that only knows whole seconds (as a coarse system clock or a second-precision column would).</summary>
    private sealed class WholeSeconds : TimeProvider
    {
        public override DateTimeOffset GetUtcNow()
        {
            var now = System.GetUtcNow();
            return new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
        }
    }

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task Tasks_made_in_the_same_instant_keep_a_stable_newest_first_order(Provider provider)
    {
        await using var host = await AppHost.StartAsync(provider, services: s => s.AddSingleton<TimeProvider>(new WholeSeconds()));
        await host.CreateWorkflowAsync("""
            {"key":"batch","name":"Batch","start":"each",
             "nodes":[{"id":"each","type":"forEach","items":"input.items","body":"ask"},
                      {"id":"ask","type":"approval","title":"Approve {{item}}","assignees":{"groups":["ops"]}}],
             "edges":[]}
            """);
        var executionId = await host.StartRunAsync("batch", """{"items":["a","b","c","d","e","f"]}""");
        await host.WaitForAsync(executionId, s => s["waiting"]!.AsArray().Count == 6);
        await using (var db = host.Database.OpenContext())
        {
            var made = await db.Tasks.Where(t => t.ExecutionId == executionId).Select(t => t.CreatedAt).ToListAsync();
            Assert.True(made.Count - made.Distinct().Count() >= 3, "the six tasks should share their instants: " + string.Join(", ", made));
        }

        var inbox = host.Services.GetRequiredService<InboxQueries>();
        async Task<string[]> Titles(InboxSort sort, int page = 0, int size = 25) =>
            [.. (await inbox.ListAsync(Ops, new InboxFilter(Sort: sort), page, size, CancellationToken.None)).Rows.Select(r => r.Title)];

        string[] newest = ["Approve f", "Approve e", "Approve d", "Approve c", "Approve b", "Approve a"];
        Assert.Equal(newest, await Titles(InboxSort.Newest));
        Assert.Equal(newest.Reverse(), await Titles(InboxSort.Oldest));
        for (var i = 0; i < 3; i++)
        {
            string[] paged = [.. await Titles(InboxSort.Newest, 0, 2), .. await Titles(InboxSort.Newest, 1, 2), .. await Titles(InboxSort.Newest, 2, 2)];
            Assert.Equal(newest, paged);
        }

        // The search on either database: any case (ILIKE on PostgreSQL, LIKE on SQLite), wildcards typed are literal.
        async Task<string[]> Found(string search) =>
            [.. (await inbox.ListAsync(Ops, new InboxFilter(Search: search), 0, 25, CancellationToken.None)).Rows.Select(r => r.Title)];
        Assert.Equal(["Approve e"], await Found("APPROVE E"));
        Assert.Equal(newest, await Found("Batch"));
        Assert.Empty(await Found("Approve %"));
        Assert.Empty(await Found("Approve _"));
    }

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task History_pages_newest_first_and_is_searched_by_title_workflow_and_comment_within_dates(Provider provider)
    {
        await using var host = await AppHost.StartAsync(provider);
        await host.CreateWorkflowAsync("""
            {"key":"expense","name":"Travel expenses","start":"manager",
             "nodes":[{"id":"manager","type":"approval","title":"Approve {{input.amount}} EUR","assignees":{"groups":["managers"]}}],"edges":[]}
            """);
        var client = host.Client(host.Token("mia", ["managers"]));
        foreach (var (amount, comment) in new[] { (10, "Receipts 100% fine, Müller"), (20, "[draft] ok_ish \"quoted\""), (30, (string?)null) })
        {
            var resId = await host.WaitForTaskAsync(await host.StartRunAsync("expense", $$"""{"amount":{{amount}}}"""));
            var body = comment is null ? """{"decision":"Approved"}""" : new JsonObject { ["decision"] = "Approved", ["comment"] = comment }.ToJsonString();
            var (status, _, _) = await AppHost.SendAsync(client, HttpMethod.Post, $"/api/executions/{resId}/resume", body);
            Assert.Equal(HttpStatusCode.Accepted, status);
        }

        // 70 more answers of mia's, one a day going back, and one of someone else's.
        var today = DateTime.UtcNow.Date;
        await using (var db = host.Database.OpenContext())
        {
            for (var i = 1; i <= 70; i++)
            {
                db.Tasks.Add(Answered($"old-{i:D3}", $"Old claim {i}", "mia", today.AddDays(-i).AddHours(12), $"seeded {i}"));
            }

            db.Tasks.Add(Answered("other", "Someone else's", "max", today.AddHours(-1), "not mia's"));
            await db.SaveChangesAsync();
        }

        var queries = host.Services.GetRequiredService<InboxQueries>();
        Task<HistorySlice> History(HistoryFilter filter, int page = 0, int size = 25) => queries.HistoryAsync(Mia, filter, page, size, CancellationToken.None);

        var first = await History(new HistoryFilter());
        Assert.Equal(73, first.Total);
        Assert.Equal(25, first.Rows.Count);
        Assert.Equal(["Approve 30 EUR", "Approve 20 EUR", "Approve 10 EUR", "Old claim 1", "Old claim 2"], first.Rows.Take(5).Select(r => r.Title));
        Assert.True(first.Rows.Zip(first.Rows.Skip(1)).All(p => p.First.ResolvedAt >= p.Second.ResolvedAt));
        var last = await History(new HistoryFilter(), page: 2);
        Assert.Equal(23, last.Rows.Count);
        Assert.Equal("Old claim 70", last.Rows[^1].Title);
        Assert.Equal("Travel expenses", first.Rows[0].WorkflowName);
        Assert.Equal("Approved: Receipts 100% fine, Müller", first.Rows[2].Answer);
        Assert.Equal("Approved", first.Rows[0].Answer);

        async Task<string[]> Found(string search) => [.. (await History(new HistoryFilter(Search: search), size: 100)).Rows.Select(r => r.Title)];
        Assert.Equal(["Approve 10 EUR"], await Found("müller"));
        Assert.Equal(["Approve 10 EUR"], await Found("100%"));
        Assert.Equal(["Approve 20 EUR"], await Found("[draft] OK_ISH \"quoted\""));
        Assert.Equal(["Approve 20 EUR"], await Found("_ish"));
        Assert.Equal(["Old claim 42"], await Found("Seeded 42"));
        Assert.Empty(await Found("1_0"));                  // LIKE's own characters are literal
        Assert.Empty(await Found("0%f"));
        Assert.Empty(await Found("mia"));                  // who answered is stored beside the comment: not searched
        Assert.Empty(await Found("approved"));             // nor the decision
        Assert.Empty(await Found("not mia's"));            // nor someone else's answers
        Assert.Equal(3, (await Found("travel EXPENSES")).Length);
        Assert.Equal(3, (await Found("expense")).Length);
        Assert.Equal(["Old claim 42"], await Found("claim 42"));

        var week = await History(new HistoryFilter(From: today.AddDays(-7), To: today.AddDays(-2)), size: 100);
        Assert.Equal(["Old claim 3", "Old claim 4", "Old claim 5", "Old claim 6", "Old claim 7"], week.Rows.Select(r => r.Title));
        Assert.Equal(["Old claim 3"], (await History(new HistoryFilter(Search: "claim 3", From: today.AddDays(-4)))).Rows.Select(r => r.Title));
    }

    private static TaskRecord Answered(string resId, string title, string by, DateTime at, string comment) => new()
    {
        ResId = resId, ExecutionId = "seeded-" + resId, TenantId = AppHost.Tenant, WorkflowKey = "claims", WorkflowVersion = 1, NodeId = "manager",
        StackJson = "[]", StackKey = string.Empty, Kind = "Approval", Title = title, Status = TaskStatuses.Resolved,
        CreatedAt = at.AddHours(-1), ResolvedAt = at, ResolvedBy = by, ResolvedByName = by, Channel = "api",
        OutputJson = new JsonObject { ["decision"] = "Approved", ["comment"] = comment, ["actor"] = by, ["at"] = at }.ToJsonString(),
    };
}
