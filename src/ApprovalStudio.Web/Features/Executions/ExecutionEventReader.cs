using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>Reads a run's persisted events within the caller's tenant: for the hub's subscribers and the inbox's pages.</summary>
public sealed class ExecutionEventReader(AppDbContext db)
{
    public Task<bool> IsVisibleAsync(string executionId, Actor actor, CancellationToken cancellationToken) =>
        db.Executions.AnyAsync(e => e.Id == executionId && e.TenantId == actor.TenantId, cancellationToken);

    public async Task<IReadOnlyList<ExecutionEventMessage>> ReadAsync(string executionId, long afterSequence, CancellationToken cancellationToken)
    {
        var records = await db.ExecutionEvents.AsNoTracking()
            .Where(e => e.ExecutionId == executionId && e.Sequence > afterSequence)
            .OrderBy(e => e.Sequence)
            .ToListAsync(cancellationToken);
        return [.. records.Select(ExecutionEventMessage.From)];
    }
}
