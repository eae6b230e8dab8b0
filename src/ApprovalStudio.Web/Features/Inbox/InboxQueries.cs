using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.People;
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

/// <summary>
/// A task as the task page shows it: the node that asks, the run's context, and its state. People are named as the
/// directory names them (<see cref="Requester"/>, <see cref="AnsweredBy"/>), nodes by their titles (<see cref="NodeTitles"/>).
/// </summary>
public sealed record TaskView(
    TaskRecord Task, WaitingNodeDefinition Node, string Requester, JsonNode? Input, IReadOnlyList<NodeOutput> Outputs, long LastSequence,
    IReadOnlyDictionary<string, string> NodeTitles, string? AnsweredBy, string WorkflowName)
{
    public string Title(string? nodeId) => Inbox.NodeTitles.Of(NodeTitles, nodeId);
}

/// <summary>What an earlier node of the run produced, headed by the node's title.</summary>
public sealed record NodeOutput(string NodeId, string Title, JsonNode? Output);

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
        var taskTitles = await db.Tasks.AsNoTracking().Where(t => t.ExecutionId == task.ExecutionId && t.StackKey == string.Empty)
            .OrderBy(t => t.CreatedAt).Select(t => new { t.NodeId, t.Title }).ToListAsync(cancellationToken);
        var titles = NodeTitles.For(definition, taskTitles.Select(t => (t.NodeId, t.Title)));
        var names = await PeopleNames.LookupAsync(db, task.TenantId, [execution.CreatedBy, task.ResolvedBy], cancellationToken);
        var answeredBy = task.ResolvedBy is null ? null
            : names.TryGetValue(task.ResolvedBy, out var known) && !string.IsNullOrWhiteSpace(known) ? known : task.ResolvedByName ?? task.ResolvedBy;
        return new TaskView(task, (WaitingNodeDefinition)definition.Node(task.NodeId), names.Name(execution.CreatedBy), JsonNode.Parse(execution.InputJson),
            [.. outputs.Select(o => new NodeOutput(o.NodeId, NodeTitles.Of(titles, o.NodeId), o.OutputJson is null ? null : JsonNode.Parse(o.OutputJson)))],
            execution.LastSequence, titles, answeredBy, string.IsNullOrWhiteSpace(definition.Name) ? task.WorkflowKey : definition.Name);
    }

    /// <summary>The newest pending task the actor may answer, other than <paramref name="exceptResId"/> (null when there is none).</summary>
    public async Task<string?> NextTaskAsync(Actor actor, string exceptResId, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        return await TasksFeature.Answerable(db, actor)
            .Where(t => t.Status == TaskStatuses.Pending && t.ResId != exceptResId)
            .OrderByDescending(t => t.CreatedAt).ThenBy(t => t.ResId)
            .Select(t => t.ResId).FirstOrDefaultAsync(cancellationToken);
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
