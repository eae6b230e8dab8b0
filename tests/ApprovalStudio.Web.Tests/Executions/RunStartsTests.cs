using System.Text.Json;
using ApprovalStudio.Testing;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalStudio.Web.Tests.Executions;

/// <summary>A run starts with two plain statements in the writer's turn: EF reads back every column it was given, with its queue item.</summary>
public sealed class RunStartsTests
{
    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task A_started_run_and_its_queue_item_read_back_through_ef_as_given(Provider provider)
    {
        await using var host = await AppHost.StartAsync(provider, new Dictionary<string, string?> { ["Workflows:Worker:Enabled"] = "false" });
        var at = new DateTime(2026, 12, 3, 10, 0, 0, DateTimeKind.Utc).AddTicks(7_654_320);
        var run = new ExecutionRecord
        {
            Id = RunStarts.NewId(), TenantId = AppHost.Tenant, WorkflowKey = "expenses", WorkflowVersion = 4, Status = ExecutionStatuses.Running,
            InputJson = """{"amount":1200,"note":"Zürich"}""", CreatedBy = "rita", CreatedAt = at, UpdatedAt = at,
            ResumedFromExecutionId = "failed-run", ResumedFromNodeId = "charge",
        };

        await RunStarts.StartAsync(host.Services.GetRequiredService<GroupCommit>(), run, QueueKinds.StartFrom, CancellationToken.None);

        await using var scope = host.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var stored = await db.Executions.AsNoTracking().SingleAsync(e => e.Id == run.Id);
        Assert.Equal(JsonSerializer.Serialize(run), JsonSerializer.Serialize(stored));
        var item = await db.Queue.AsNoTracking().SingleAsync(q => q.ExecutionId == run.Id);
        Assert.Equal((QueueKinds.StartFrom, QueueStatuses.Pending, 0, at, at, (string?)null), (item.Kind, item.Status, item.Attempts, item.AvailableAt, item.CreatedAt, item.ResId));
    }
}
