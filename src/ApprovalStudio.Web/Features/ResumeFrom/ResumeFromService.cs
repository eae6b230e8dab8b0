using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Workflows;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Workflows.Execution;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.ResumeFrom;

public abstract record ResumeFromOutcome
{
    public sealed record Started(string ExecutionId) : ResumeFromOutcome;

    public sealed record NotFound(string What) : ResumeFromOutcome;

    public sealed record Conflict(string Reason) : ResumeFromOutcome;
}

/// <summary>
/// Resume-from (CONTRACT §4.3): a failed run is left as it is; a new run, linked to it, inherits its
/// input and the outputs of the nodes completed up to the chosen node and goes on from there.
/// </summary>
public sealed class ResumeFromService(AppDbContext db, WorkflowCatalog catalog, QueueSignal signal, TimeProvider clock)
{
    public async Task<ResumeFromOutcome> StartAsync(Actor actor, string runId, string nodeId, CancellationToken cancellationToken)
    {
        var run = await db.Executions.AsNoTracking().SingleOrDefaultAsync(e => e.Id == runId && e.TenantId == actor.TenantId, cancellationToken);
        if (run is null)
        {
            return new ResumeFromOutcome.NotFound($"Run '{runId}'");
        }

        var definition = await catalog.GetAsync(run.TenantId, run.WorkflowKey, run.WorkflowVersion, cancellationToken);
        if (!definition.Nodes.ContainsKey(nodeId))
        {
            return new ResumeFromOutcome.NotFound($"Node '{nodeId}' of run '{runId}'");
        }

        if (run.Status != ExecutionStatuses.Failed)
        {
            return new ResumeFromOutcome.Conflict($"Run '{runId}' is {run.Status}; only a failed run can be resumed from a node.");
        }

        var completed = await db.NodeRuns.AnyAsync(r => r.ExecutionId == runId && r.NodeId == nodeId && r.StackKey == string.Empty
            && r.Status == nameof(NodeRunStatus.Completed), cancellationToken);
        if (!completed)
        {
            return new ResumeFromOutcome.Conflict($"Node '{nodeId}' did not complete successfully in run '{runId}' (nodes inside a forEach cannot be resumed from).");
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var id = Guid.CreateVersion7().ToString("N");
        db.Executions.Add(new ExecutionRecord
        {
            Id = id, TenantId = run.TenantId, WorkflowKey = run.WorkflowKey, WorkflowVersion = run.WorkflowVersion, Status = ExecutionStatuses.Running,
            InputJson = run.InputJson, CreatedBy = actor.UserId, CreatedAt = now, UpdatedAt = now,
            ResumedFromExecutionId = run.Id, ResumedFromNodeId = nodeId,
        });
        db.Queue.Add(new QueueItem { ExecutionId = id, Kind = QueueKinds.StartFrom, Status = QueueStatuses.Pending, AvailableAt = now, CreatedAt = now });
        await db.SaveChangesAsync(cancellationToken);
        signal.Notify();
        return new ResumeFromOutcome.Started(id);
    }
}
