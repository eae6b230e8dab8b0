using ApprovalStudio.Web.Features.Inbox;
using ApprovalStudio.Web.Infrastructure.Auth;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>The inbox's filters, search, sorting and paging, against the real app's SQLite database.</summary>
public sealed class InboxQueriesTests : IAsyncLifetime
{
    private AppHost _host = null!;
    private InboxQueries _inbox = null!;

    private static readonly Actor Ops = new(AppHost.Tenant, "zoe", "Zoe", new HashSet<string> { "ops" }, new HashSet<string>());

    public async Task InitializeAsync()
    {
        _host = await AppHost.StartAsync();
        _inbox = _host.Services.GetRequiredService<InboxQueries>();
        await _host.CreateWorkflowAsync(Flows.Review);
        await _host.CreateWorkflowAsync(Flows.Expiring("continue").Replace("PT1S", "PT30M", StringComparison.Ordinal).Replace("\"users\":[\"bob\"]", "\"groups\":[\"ops\"]", StringComparison.Ordinal));
        foreach (var doc in new[] { "alpha plan", "beta budget", "gamma plan" })
        {
            var id = await _host.StartRunAsync("review-flow", $$"""{"doc":"{{doc}}"}""");
            await _host.WaitForTaskAsync(id);
        }

        var expiring = await _host.StartRunAsync("expiring-continue");
        await _host.WaitForTaskAsync(expiring);
        await _host.CreateWorkflowAsync(Flows.Approval);
        var other = await _host.StartRunAsync("approval-flow", """{"amount":5}""");
        await _host.WaitForTaskAsync(other);
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private async Task<string[]> TitlesAsync(InboxFilter filter, int page = 0, int size = 25) =>
        [.. (await _inbox.ListAsync(Ops, filter, page, size, CancellationToken.None)).Rows.Select(r => r.Title)];

    [Fact]
    public async Task The_inbox_lists_only_what_the_actor_may_answer_newest_first()
    {
        Assert.Equal(["Quick!", "Look at gamma plan", "Look at beta budget", "Look at alpha plan"], await TitlesAsync(new InboxFilter()));
        Assert.Equal(4, await _inbox.CountPendingAsync(Ops, CancellationToken.None));
    }

    [Fact]
    public async Task Search_workflow_sort_and_paging_narrow_the_list_in_the_database()
    {
        Assert.Equal(["Look at gamma plan", "Look at alpha plan"], await TitlesAsync(new InboxFilter(Search: "PLAN")));
        Assert.Equal(["Quick!"], await TitlesAsync(new InboxFilter(Workflow: "expiring-continue")));
        Assert.Equal(["Look at alpha plan", "Look at beta budget", "Look at gamma plan", "Quick!"], await TitlesAsync(new InboxFilter(Sort: InboxSort.Title)));
        Assert.Equal("Quick!", (await TitlesAsync(new InboxFilter(Sort: InboxSort.DeadlineFirst)))[0]);
        Assert.Equal(["Look at beta budget", "Look at alpha plan"], await TitlesAsync(new InboxFilter(), page: 1, size: 2));
        var slice = await _inbox.ListAsync(Ops, new InboxFilter(Kind: "Review"), 0, 2, CancellationToken.None);
        Assert.Equal(4, slice.Total);
        Assert.Empty(await TitlesAsync(new InboxFilter(Kind: "Approval")));
        Assert.Empty(await TitlesAsync(new InboxFilter(OverdueOnly: true)));
    }

    [Fact]
    public async Task A_filtered_page_that_is_not_full_is_counted_without_a_COUNT()
    {
        using var sql = await SqlCommands.OnAsync(_host);
        var plans = await _inbox.ListAsync(Ops, new InboxFilter(Search: "plan"), 0, 25, CancellationToken.None);
        Assert.Equal((2, 2), (plans.Rows.Count, plans.Total));
        Assert.Equal(1, sql.Count(InboxQueries.ListTag)); // the page alone

        sql.Clear();
        var last = await _inbox.ListAsync(Ops, new InboxFilter(Kind: "Review"), 1, 3, CancellationToken.None);
        Assert.Equal((1, 4), (last.Rows.Count, last.Total)); // the short last page: 3 before it and 1 on it
        Assert.Equal(1, sql.Count(InboxQueries.ListTag));

        // A kept count that drifted does not outweigh the short page's own.
        Assert.Equal(4, (await _inbox.ListAsync(Ops, new InboxFilter(), 0, 25, CancellationToken.None, knownTotal: 9)).Total);

        sql.Clear();
        var full = await _inbox.ListAsync(Ops, new InboxFilter(Kind: "Review"), 0, 2, CancellationToken.None);
        Assert.Equal((2, 4), (full.Rows.Count, full.Total)); // a full page: more may follow, so they are counted
        Assert.Equal(2, sql.Count(InboxQueries.ListTag));

        sql.Clear();
        var beyond = await _inbox.ListAsync(Ops, new InboxFilter(Kind: "Review"), 5, 2, CancellationToken.None);
        Assert.Equal((0, 4), (beyond.Rows.Count, beyond.Total)); // past the end: counted, so the pager can go back
    }

    [Fact]
    public async Task A_search_matches_what_was_typed_literally_in_any_case_and_workflows_by_name()
    {
        foreach (var doc in new[] { "50% off", "500 units", "a_b", "axb" })
        {
            await _host.WaitForTaskAsync(await _host.StartRunAsync("review-flow", $$"""{"doc":"{{doc}}"}"""));
        }

        Assert.Equal(["Look at 50% off"], await TitlesAsync(new InboxFilter(Search: "50%")));
        Assert.Equal(["Look at a_b"], await TitlesAsync(new InboxFilter(Search: "A_B")));
        Assert.Equal(["Look at gamma plan", "Look at alpha plan"], await TitlesAsync(new InboxFilter(Search: " Plan ")));
        Assert.Equal(7, (await TitlesAsync(new InboxFilter(Search: "REVIEW"))).Length); // the workflow's name, "Review"
        Assert.Equal(["Quick!"], await TitlesAsync(new InboxFilter(Search: "expiring-cont"))); // its key
    }

    [Theory]
    [InlineData(InboxSort.Newest)]
    [InlineData(InboxSort.Oldest)]
    [InlineData(InboxSort.Title)]
    [InlineData(InboxSort.DeadlineFirst)]
    public async Task Every_order_reads_a_page_along_an_index_instead_of_sorting_every_pending_task(InboxSort sort)
    {
        using var sql = await SqlCommands.OnAsync(_host);
        await _inbox.ListAsync(Ops, new InboxFilter(Sort: sort), 0, 2, CancellationToken.None, knownTotal: 4);
        var list = Assert.Single(sql.Commands(InboxQueries.ListTag));

        // The plan of the very command, with the values it ran with (with none bound, SQLite plans a LIMIT NULL otherwise).
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection(_host.Database.ConnectionString);
        await connection.OpenAsync();
        await using var explain = connection.CreateCommand();
        explain.CommandText = "EXPLAIN QUERY PLAN " + list.Text;
        foreach (var (name, value) in list.Parameters)
        {
            explain.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        var plan = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                plan.Add(reader.GetString(3));
            }
        }

        // Along the order's index, sorting at most ties on it ("RIGHT PART"), and stopping after the page: a full sort ("USE
        // TEMP B-TREE FOR ORDER BY" inside the page's subquery, before the join) reads and orders all 100,000 of a large
        // inbox for every page — 110 ms a page on such a file, against 4 ms along the index. (The join's own sort of the
        // page's rows comes after "SCAN t1".)
        var page = plan.TakeWhile(step => !step.StartsWith("SCAN t1", StringComparison.Ordinal)).ToList();
        Assert.Contains(page, step => step.StartsWith("SEARCH t USING INDEX IX_Tasks_TenantId_Status_", StringComparison.Ordinal));
        Assert.DoesNotContain("USE TEMP B-TREE FOR ORDER BY", page);
    }

    [Fact]
    public async Task Rows_carry_requester_and_deadline()
    {
        var row = (await _inbox.ListAsync(Ops, new InboxFilter(Workflow: "expiring-continue"), 0, 25, CancellationToken.None)).Rows.Single();

        Assert.Equal("starter", row.Requester);
        Assert.NotNull(row.ExpiresAt);
        Assert.InRange(row.ExpiresAt!.Value - row.CreatedAt, TimeSpan.FromMinutes(29), TimeSpan.FromMinutes(31));
    }
}
