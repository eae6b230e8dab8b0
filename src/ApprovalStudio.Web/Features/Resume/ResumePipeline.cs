using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.People;
using ApprovalStudio.Web.Features.Workflows;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Workflows.Definitions;
using ApprovalStudio.Workflows.Execution;
using ApprovalStudio.Workflows.Resumption;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.Resume;

/// <summary>
/// An answer to one suspension, from any channel (api, inbox, email, slack, webhook…), with the <paramref name="Grant"/>
/// that says why the caller may answer. <paramref name="AnsweredOn"/>: the channel's own message the answer was given on
/// (Slack's <c>channel/ts</c>), which that channel replaces itself; the task's other messages are replaced through the
/// notifications outbox.
/// </summary>
public sealed record ResumeCommand(string ResId, AnswerGrant Grant, string Channel, JsonNode? Body, string? AnsweredOn = null);

public abstract record ResumeOutcome
{
    public sealed record Accepted(string ExecutionId) : ResumeOutcome;

    public sealed record Invalid(IReadOnlyDictionary<string, string[]> Errors) : ResumeOutcome;

    public sealed record NotFound : ResumeOutcome;

    public sealed record Forbidden(string Reason) : ResumeOutcome;

    public sealed record AlreadyResolved(string ExecutionId, string? ResolvedBy, string? ResolvedByName, DateTime? ResolvedAt, string? Channel) : ResumeOutcome;

    public sealed record Gone(string ExecutionId, DateTime? ExpiredAt, string Reason) : ResumeOutcome;
}

/// <summary>
/// The one resume pipeline (CONTRACT §4): every channel comes through here. It checks who may
/// answer and what the answer must be, then consumes the task exactly once — a guarded update
/// that only a still-pending, unexpired task passes — and in the same transaction writes the audit
/// record and the continuation's queue row. A rejected answer changes nothing.
/// </summary>
public sealed class ResumePipeline(
    AppDbContext db, WorkflowCatalog catalog, PeopleDirectory people, QueueSignal signal, ExecutionNotifier notifier, ITaskOutbox outbox, TimeProvider clock,
    ILogger<ResumePipeline> log)
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    public async Task<ResumeOutcome> ResumeAsync(ResumeCommand command, CancellationToken cancellationToken)
    {
        var task = await db.Tasks.AsNoTracking().Include(t => t.Assignees).SingleOrDefaultAsync(t => t.ResId == command.ResId, cancellationToken);
        if (task is null)
        {
            return new ResumeOutcome.NotFound();
        }

        var (actor, refusal) = await AuthorizeAsync(task, command.Grant, cancellationToken);
        if (refusal is not null)
        {
            ResumeLog.Refused(log, task.ExecutionId, task.NodeId, command.Grant.Name, refusal);
            return new ResumeOutcome.Forbidden(refusal);
        }

        var now = clock.GetUtcNow();
        if (Closed(task, now.UtcDateTime) is { } closed)
        {
            return closed;
        }

        var definition = await catalog.GetAsync(task.TenantId, task.WorkflowKey, task.WorkflowVersion, cancellationToken);
        var node = (WaitingNodeDefinition)definition.Node(task.NodeId);
        // What an answer must contain is decided here for every channel; a tool-call task's calls are the task's own.
        var pendingCalls = task.ToolCallsJson is null ? null : JsonSerializer.Deserialize<ToolCall[]>(task.ToolCallsJson, JsonOptions);
        var check = ResponseValidator.Check(node, command.Body, actor.UserId, now, pendingCalls);
        if (!check.IsValid)
        {
            return new ResumeOutcome.Invalid(check.Errors);
        }

        var at = now.UtcDateTime;
        await using var transaction = await db.BeginWriteAsync(cancellationToken);
        var consumed = await db.Tasks
            .Where(t => t.ResId == task.ResId && t.Status == TaskStatuses.Pending && (t.ExpiresAt == null || t.ExpiresAt > at))
            .ExecuteUpdateAsync(s => s
                .SetProperty(t => t.Status, TaskStatuses.Resolved)
                .SetProperty(t => t.ResolvedBy, actor.UserId)
                .SetProperty(t => t.ResolvedByName, actor.Name)
                .SetProperty(t => t.ResolvedAt, at)
                .SetProperty(t => t.Channel, command.Channel)
                .SetProperty(t => t.OutputJson, check.Output == null ? null : check.Output.ToJsonString()), cancellationToken);
        if (consumed != 1)
        {
            await transaction.RollbackAsync(cancellationToken);
            var current = await db.Tasks.AsNoTracking().SingleAsync(t => t.ResId == task.ResId, cancellationToken);
            return Closed(current, at) ?? throw new InvalidOperationException($"Task of run {task.ExecutionId} was not consumed but is still open.");
        }

        await db.Executions.Where(e => e.Id == task.ExecutionId && (e.Status == ExecutionStatuses.Suspended || e.Status == ExecutionStatuses.Running))
            .ExecuteUpdateAsync(s => s
                .SetProperty(e => e.Status, ExecutionStatuses.Resuming)
                .SetProperty(e => e.UpdatedAt, at)
                .SetProperty(e => e.Revision, e => e.Revision + 1), cancellationToken);
        await outbox.SettledAsync(db, [task.ResId], at, cancellationToken, command.AnsweredOn);
        db.Audit.Add(new AuditRecord
        {
            TenantId = task.TenantId, ExecutionId = task.ExecutionId, ResId = task.ResId, NodeId = task.NodeId,
            Action = "Resumed", Actor = actor.UserId, ActorName = actor.Name, Channel = command.Channel, Grant = command.Grant.Name, At = at,
            PayloadJson = check.Output?.ToJsonString(),
        });
        db.Queue.Add(new QueueItem
        {
            ExecutionId = task.ExecutionId, Kind = QueueKinds.Resume, ResId = task.ResId, Status = QueueStatuses.Pending, AvailableAt = at, CreatedAt = at,
        });
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        signal.Notify();
        ResumeLog.Accepted(log, task.ExecutionId, task.NodeId, actor.UserId, command.Channel, command.Grant.Name);
        task.Status = TaskStatuses.Resolved;
        task.ResolvedBy = actor.UserId;
        task.ResolvedByName = actor.Name;
        task.ResolvedAt = at;
        task.Channel = command.Channel;
        await notifier.TaskChangedAsync(task, created: false);
        return new ResumeOutcome.Accepted(task.ExecutionId);
    }

    /// <summary>Why <paramref name="grant"/> may not answer <paramref name="task"/> (read with its assignees), or null: for a page to say so before anyone answers.</summary>
    public async Task<string?> RefusalAsync(TaskRecord task, AnswerGrant grant, CancellationToken cancellationToken) =>
        (await AuthorizeAsync(task, grant, cancellationToken)).Refusal;

    /// <summary>Who answers, by the grant's own rule; or why the grant does not reach this task.</summary>
    private async Task<(Actor Answerer, string? Refusal)> AuthorizeAsync(TaskRecord task, AnswerGrant grant, CancellationToken cancellationToken)
    {
        if (task.TenantId != grant.TenantId)
        {
            return (Nobody(grant), "This task belongs to another tenant.");
        }

        switch (grant)
        {
            case AnswerGrant.Assignee { Actor: var actor }:
                return (actor, Answerers.May(actor, task) ? null : "You are not an assignee of this task.");
            case AnswerGrant.DeepLink link:
                var recipient = PeopleDirectory.AsAssignee(link.Tenant, link.UserId, await people.FindAsync(link.Tenant, link.UserId, cancellationToken));
                return (recipient, Answerers.May(recipient, task) ? null : "You are no longer one of its assignees.");
            case AnswerGrant.WebhookSecret secret:
                var webhook = new Actor(task.TenantId, "webhook", "Webhook", new HashSet<string>(), new HashSet<string>());
                return (webhook, task.WorkflowKey == secret.WorkflowKey && task.Kind == nameof(WaitKind.Wait)
                    ? null
                    : "A webhook secret answers the wait nodes of its own workflow only.");
            case AnswerGrant.AgentRuntime { Actor: var agent }:
                return (agent, task.Kind == nameof(WaitKind.ToolCall) ? null : "An agent runtime answers tool calls only.");
            default:
                return (Nobody(grant), $"Unknown grant '{grant.Name}'.");
        }
    }

    // Stands in for the answerer of a refused grant; a refusal records no one, so nothing reads it.
    private static Actor Nobody(AnswerGrant grant) => new(grant.TenantId, grant.Name, grant.Name, new HashSet<string>(), new HashSet<string>());

    private static ResumeOutcome? Closed(TaskRecord task, DateTime now) => task.Status switch
    {
        TaskStatuses.Resolved => new ResumeOutcome.AlreadyResolved(task.ExecutionId, task.ResolvedBy, task.ResolvedByName, task.ResolvedAt, task.Channel),
        TaskStatuses.Expired => new ResumeOutcome.Gone(task.ExecutionId, task.ExpiresAt, "The task passed its deadline."),
        TaskStatuses.Cancelled => new ResumeOutcome.Gone(task.ExecutionId, null, "The run ended before this task was answered."),
        _ when task.ExpiresAt <= now => new ResumeOutcome.Gone(task.ExecutionId, task.ExpiresAt, "The task passed its deadline."),
        _ => null,
    };
}

internal static partial class ResumeLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Resume of {NodeId} in run {ExecutionId} accepted from {Actor} via {Channel} (grant {Grant})")]
    public static partial void Accepted(ILogger logger, string executionId, string nodeId, string actor, string channel, string grant);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Resume of {NodeId} in run {ExecutionId} refused for grant {Grant}: {Reason}")]
    public static partial void Refused(ILogger logger, string executionId, string nodeId, string grant, string reason);
}
