using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Hub;
using ApprovalStudio.Web.Features.Notifications;
using ApprovalStudio.Web.Features.Workflows;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Workflows.Definitions;
using ApprovalStudio.Workflows.Execution;
using ApprovalStudio.Workflows.Resumption;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.Resume;

/// <summary>
/// An answer to one suspension, from any channel (api, inbox, email, slack, webhook…).
/// <paramref name="AuthorizedByChannel"/>: the channel already authorized the caller for this run (the
/// workflow's webhook secret; an agent runtime answering its own tool calls), which stands for the
/// assignee check (wait and tool-call nodes have no assignees). <paramref name="AnsweredOn"/>: the channel's own message the
/// answer was given on (Slack's <c>channel/ts</c>), which that channel replaces itself; the task's other messages are
/// replaced through the notifications outbox.
/// </summary>
public sealed record ResumeCommand(string ResId, Actor Actor, string Channel, JsonNode? Body, bool AuthorizedByChannel = false, string? AnsweredOn = null);

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
    AppDbContext db, WorkflowCatalog catalog, QueueSignal signal, ExecutionNotifier notifier, TimeProvider clock, ILogger<ResumePipeline> log)
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    public async Task<ResumeOutcome> ResumeAsync(ResumeCommand command, CancellationToken cancellationToken)
    {
        var task = await db.Tasks.AsNoTracking().Include(t => t.Assignees).SingleOrDefaultAsync(t => t.ResId == command.ResId, cancellationToken);
        if (task is null)
        {
            return new ResumeOutcome.NotFound();
        }

        var actor = command.Actor;
        if (task.TenantId != actor.TenantId)
        {
            ResumeLog.Refused(log, task.ExecutionId, task.NodeId, actor.UserId, "tenant");
            return new ResumeOutcome.Forbidden("This task belongs to another tenant.");
        }

        if (!command.AuthorizedByChannel && !Answerers.May(actor, task))
        {
            ResumeLog.Refused(log, task.ExecutionId, task.NodeId, actor.UserId, "not an assignee");
            return new ResumeOutcome.Forbidden("You are not an assignee of this task.");
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
        await NotificationPlanner.SettledAsync(db, [task.ResId], at, cancellationToken, command.AnsweredOn);
        db.Audit.Add(new AuditRecord
        {
            TenantId = task.TenantId, ExecutionId = task.ExecutionId, ResId = task.ResId, NodeId = task.NodeId,
            Action = "Resumed", Actor = actor.UserId, ActorName = actor.Name, Channel = command.Channel, At = at,
            PayloadJson = check.Output?.ToJsonString(),
        });
        db.Queue.Add(new QueueItem
        {
            ExecutionId = task.ExecutionId, Kind = QueueKinds.Resume, ResId = task.ResId, Status = QueueStatuses.Pending, AvailableAt = at, CreatedAt = at,
        });
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        signal.Notify();
        ResumeLog.Accepted(log, task.ExecutionId, task.NodeId, actor.UserId, command.Channel);
        task.Status = TaskStatuses.Resolved;
        task.ResolvedBy = actor.UserId;
        task.ResolvedByName = actor.Name;
        task.ResolvedAt = at;
        task.Channel = command.Channel;
        await notifier.TaskChangedAsync(task, created: false);
        return new ResumeOutcome.Accepted(task.ExecutionId);
    }

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
    [LoggerMessage(Level = LogLevel.Information, Message = "Resume of {NodeId} in run {ExecutionId} accepted from {Actor} via {Channel}")]
    public static partial void Accepted(ILogger logger, string executionId, string nodeId, string actor, string channel);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Resume of {NodeId} in run {ExecutionId} refused for {Actor}: {Reason}")]
    public static partial void Refused(ILogger logger, string executionId, string nodeId, string actor, string reason);
}
