using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Tasks;
using ApprovalStudio.Web.Features.Workflows;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Workflows.Definitions;
using ApprovalStudio.Workflows.Execution;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.Inbox;

public enum InboxSort
{
    Newest,
    Oldest,
    DeadlineFirst,
    Title,
}

public sealed record InboxFilter(string? Kind = null, string? Workflow = null, bool OverdueOnly = false, string? Search = null, InboxSort Sort = InboxSort.Newest);

public sealed record InboxRow(string ResId, string ExecutionId, string WorkflowKey, string Kind, string Title, string Requester, DateTime CreatedAt, DateTime? ExpiresAt);

public sealed record InboxSlice(IReadOnlyList<InboxRow> Rows, int Total);

public sealed record HistoryRow(string ResId, string ExecutionId, string WorkflowKey, string Kind, string Title, DateTime? ResolvedAt, string? Channel, JsonNode? Response);

/// <summary>A task as the task page shows it: the node that asks, the run's context, and its state.</summary>
public sealed record TaskView(
    TaskRecord Task, WaitingNodeDefinition Node, string Requester, JsonNode? Input, IReadOnlyList<(string NodeId, JsonNode? Output)> Outputs, long LastSequence);

public sealed record ExecutionView(ExecutionRecord Execution, IReadOnlyList<NodeRunEntity> Nodes);

/// <summary>
/// The inbox's reads. Blazor circuits live long, so every call gets its own scope and DbContext.
/// Paging and filtering happen in the database, so a tenant with 100,000 pending tasks stays fast.
/// </summary>
public sealed class InboxQueries(IServiceScopeFactory scopes, TimeProvider clock)
{
    public async Task<int> CountPendingAsync(Actor actor, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        return await TasksFeature.Answerable(db, actor).CountAsync(t => t.Status == TaskStatuses.Pending, cancellationToken);
    }

    public async Task<InboxSlice> ListAsync(Actor actor, InboxFilter filter, int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var now = clock.GetUtcNow().UtcDateTime;
        var query = TasksFeature.Answerable(db, actor).Where(t => t.Status == TaskStatuses.Pending);
        if (!string.IsNullOrEmpty(filter.Kind))
        {
            query = query.Where(t => t.Kind == filter.Kind);
        }

        if (!string.IsNullOrEmpty(filter.Workflow))
        {
            query = query.Where(t => t.WorkflowKey == filter.Workflow);
        }

        if (filter.OverdueOnly)
        {
            query = query.Where(t => t.ExpiresAt != null && t.ExpiresAt <= now);
        }

        if (!string.IsNullOrWhiteSpace(filter.Search))
        {
            var text = filter.Search.Trim().ToLower();
            query = query.Where(t => t.Title.ToLower().Contains(text) || t.WorkflowKey.ToLower().Contains(text));
        }

        var total = await query.CountAsync(cancellationToken);
        query = filter.Sort switch
        {
            InboxSort.Oldest => query.OrderBy(t => t.CreatedAt).ThenBy(t => t.ResId),
            InboxSort.DeadlineFirst => query.OrderBy(t => t.ExpiresAt == null).ThenBy(t => t.ExpiresAt).ThenBy(t => t.ResId),
            InboxSort.Title => query.OrderBy(t => t.Title).ThenBy(t => t.ResId),
            _ => query.OrderByDescending(t => t.CreatedAt).ThenBy(t => t.ResId),
        };
        var rows = await query.Skip(page * pageSize).Take(pageSize)
            .Join(db.Executions, t => t.ExecutionId, e => e.Id, (t, e) => new InboxRow(t.ResId, t.ExecutionId, t.WorkflowKey, t.Kind, t.Title, e.CreatedBy, t.CreatedAt, t.ExpiresAt))
            .ToListAsync(cancellationToken);
        return new InboxSlice(rows, total);
    }

    public async Task<IReadOnlyList<string>> WorkflowKeysAsync(Actor actor, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        return await db.Workflows.Where(w => w.TenantId == actor.TenantId).OrderBy(w => w.Key).Select(w => w.Key).ToListAsync(cancellationToken);
    }

    /// <summary>The task if it exists in the actor's tenant (whether or not the actor may answer it).</summary>
    public async Task<TaskView?> TaskAsync(Actor actor, string resId, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var task = await db.Tasks.AsNoTracking().Include(t => t.Assignees).SingleOrDefaultAsync(t => t.ResId == resId && t.TenantId == actor.TenantId, cancellationToken);
        if (task is null)
        {
            return null;
        }

        var execution = await db.Executions.AsNoTracking().SingleAsync(e => e.Id == task.ExecutionId, cancellationToken);
        var definition = await scope.ServiceProvider.GetRequiredService<WorkflowCatalog>().GetAsync(task.TenantId, task.WorkflowKey, task.WorkflowVersion, cancellationToken);
        var outputs = await db.NodeRuns.AsNoTracking()
            .Where(r => r.ExecutionId == task.ExecutionId && r.Status == nameof(NodeRunStatus.Completed) && r.StackKey == string.Empty)
            .OrderBy(r => r.Id).Select(r => new { r.NodeId, r.OutputJson }).ToListAsync(cancellationToken);
        return new TaskView(task, (WaitingNodeDefinition)definition.Node(task.NodeId), execution.CreatedBy, JsonNode.Parse(execution.InputJson),
            [.. outputs.Select(o => (o.NodeId, o.OutputJson is null ? null : JsonNode.Parse(o.OutputJson)))], execution.LastSequence);
    }

    public async Task<IReadOnlyList<Hub.ExecutionEventMessage>> EventsAsync(Actor actor, string executionId, long afterSequence, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var reader = scope.ServiceProvider.GetRequiredService<Hub.ExecutionEventReader>();
        return await reader.IsVisibleAsync(executionId, actor, cancellationToken)
            ? await reader.ReadAsync(executionId, afterSequence, cancellationToken)
            : [];
    }

    public async Task<IReadOnlyList<HistoryRow>> HistoryAsync(Actor actor, int take, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var rows = await db.Tasks.AsNoTracking()
            .Where(t => t.TenantId == actor.TenantId && t.Status == TaskStatuses.Resolved && t.ResolvedBy == actor.UserId)
            .OrderByDescending(t => t.ResolvedAt).Take(take)
            .ToListAsync(cancellationToken);
        return [.. rows.Select(t => new HistoryRow(t.ResId, t.ExecutionId, t.WorkflowKey, t.Kind, t.Title, t.ResolvedAt, t.Channel,
            t.OutputJson is null ? null : JsonNode.Parse(t.OutputJson)))];
    }

    public async Task<ExecutionView?> ExecutionAsync(Actor actor, string executionId, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var execution = await db.Executions.AsNoTracking().SingleOrDefaultAsync(e => e.Id == executionId && e.TenantId == actor.TenantId, cancellationToken);
        if (execution is null)
        {
            return null;
        }

        var nodes = await db.NodeRuns.AsNoTracking().Where(r => r.ExecutionId == executionId).OrderBy(r => r.Id).ToListAsync(cancellationToken);
        return new ExecutionView(execution, nodes);
    }
}
