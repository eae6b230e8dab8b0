using System.Buffers.Text;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Workflows;
using ApprovalStudio.Web.Infrastructure.Faults;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Telemetry;
using ApprovalStudio.Workflows.Definitions;
using ApprovalStudio.Workflows.Execution;
using Microsoft.EntityFrameworkCore;
using StackFrame = ApprovalStudio.Workflows.Execution.StackFrame;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>
/// Runs one leased queue item: loads the run, lets the engine advance it, and writes the new state,
/// the new tasks, the node log and the item's completion in one transaction. A crash before the
/// commit leaves the item leased; when the lease runs out another worker does the step again.
/// </summary>
public sealed class ExecutionProcessor(
    AppDbContext db, WorkflowCatalog catalog, WorkflowEngine engine, GroupCommit commits, ExecutionNotifier notifier, ITaskOutbox outbox,
    AppTelemetry telemetry, FaultPoints faults, TimeProvider clock, ILogger<ExecutionProcessor> log)
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    // Every step reads its item, its run and (for an answer) its task: compiled once rather than translated each time.
    private static readonly CompiledQuery<Func<AppDbContext, long, CancellationToken, Task<QueueItem>>> ItemQuery = new(() => EF.CompileAsyncQuery(
        (AppDbContext db, long id, CancellationToken _) => db.Queue.AsNoTracking().Single(q => q.Id == id)));

    private static readonly CompiledQuery<Func<AppDbContext, string, CancellationToken, Task<ExecutionRecord>>> RunQuery = new(() => EF.CompileAsyncQuery(
        (AppDbContext db, string id, CancellationToken _) => db.Executions.AsNoTracking().Single(e => e.Id == id)));

    private static readonly CompiledQuery<Func<AppDbContext, string, IAsyncEnumerable<TaskRecord>>> CancelledQuery = new(() => EF.CompileAsyncQuery(
        (AppDbContext db, string executionId) => db.Tasks.AsNoTracking().Include(t => t.Assignees)
            .Where(t => t.ExecutionId == executionId && t.Status == TaskStatuses.Cancelled)));

    // The row a resumed node (or a finished loop) opened when it began: the step closes it.
    private static readonly CompiledQuery<Func<AppDbContext, string, string, string, CancellationToken, Task<NodeRunEntity?>>> OpenNodeRunQuery = new(() => EF.CompileAsyncQuery(
        (AppDbContext db, string executionId, string nodeId, string stackKey, CancellationToken _) => db.NodeRuns.AsNoTracking()
            .FirstOrDefault(r => r.ExecutionId == executionId && r.NodeId == nodeId && r.StackKey == stackKey
                && (r.Status == nameof(NodeRunStatus.Waiting) || r.Status == nameof(NodeRunStatus.Running)))));

    private static readonly CompiledQuery<Func<AppDbContext, string, CancellationToken, Task<TaskRecord>>> TaskQuery = new(() => EF.CompileAsyncQuery(
        (AppDbContext db, string resId, CancellationToken _) => db.Tasks.AsNoTracking().Single(t => t.ResId == resId)));

    /// <returns>False when the lease was lost to another worker and nothing was done.</returns>
    public async Task<bool> ProcessAsync(long itemId, string leaseOwner, CancellationToken cancellationToken)
    {
        var item = await ItemQuery.For(db)(db, itemId, cancellationToken);
        if (item.Status != QueueStatuses.Leased || item.LeaseOwner != leaseOwner)
        {
            return false;
        }

        // The step continues the trace of the request that queued it (the answer's 202, the run's start).
        using var activity = AppTelemetry.StartQueued($"step {item.Kind}", item.TraceParent);
        activity?.SetTag("approvalstudio.execution_id", item.ExecutionId);
        activity?.SetTag("approvalstudio.queue_item", item.Id);
        activity?.SetTag("approvalstudio.attempt", item.Attempts + 1);
        try
        {
            var outcome = await StepAsync(item, cancellationToken);
            activity?.SetTag("approvalstudio.outcome", outcome);
            telemetry.Continued(item.Kind, outcome, clock.GetUtcNow().UtcDateTime - item.CreatedAt);
            return true;
        }
        catch (Exception ex) when (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            throw;
        }
    }

    /// <summary>Does the step; says "done", or "skipped" when there was nothing left to do.</summary>
    private async Task<string> StepAsync(QueueItem item, CancellationToken cancellationToken)
    {
        var execution = await RunQuery.For(db)(db, item.ExecutionId, cancellationToken);
        if (ExecutionStatuses.IsTerminal(execution.Status))
        {
            ExecutionLog.SkippedFinishedRun(log, item.Id, item.Kind, execution.Id, execution.Status);
            await FinishAsync(item, $"Skipped: the run was already {execution.Status}.", cancellationToken);
            return Skipped;
        }

        var definition = await catalog.GetAsync(execution.TenantId, execution.WorkflowKey, execution.WorkflowVersion, cancellationToken);
        var task = item.ResId is null ? null : await TaskQuery.For(db)(db, item.ResId, cancellationToken);
        AdvanceResult result;
        try
        {
            result = await AdvanceAsync(item, execution, task, definition, cancellationToken);
        }
        catch (NotWaitingException ex)
        {
            ExecutionLog.SkippedNotWaiting(log, item.Id, execution.Id, ex.NodeId);
            await FinishAsync(item, ex.Message, cancellationToken);
            return Skipped;
        }

        faults.Hit(FaultPoints.StepBeforeCommit, item.Kind);

        // The step's writes share a commit (and its fsync) with the answers and the other steps that arrive meanwhile
        // (group commit, SQLite): the engine ran above, outside the writer's turn, so the turn holds only the writes.
        // The run's revision guards them: an answer committed since the run was read fails this unit alone, and the
        // worker does the step again after it.
        var (events, created, cancelled) = await commits.RunAsync(async (batch, ct) =>
        {
            // Claim the revision first. EF writes the step's event rows before its guarded UPDATE of the run, so an
            // answer that took the next event number since the read would otherwise fail this unit as a duplicate key —
            // a failed attempt with backoff — instead of a conflict the worker redoes at once. On PostgreSQL the claim
            // also locks the run's row, so an answer in flight numbers its event after this step's.
            if (await ClaimAsync(batch, execution, ct) == 0)
            {
                throw new DbUpdateConcurrencyException($"Run {execution.Id} changed after its step read it (revision {execution.Revision}).");
            }

            // A fresh copy per attempt: a unit run again (a deadlock's victim) starts from the run as the step read it.
            var run = Copy(execution);
            var now = clock.GetUtcNow().UtcDateTime;
            Apply(run, result, now);
            var created = AddTasks(batch, run, result.NewWaits, now);
            await outbox.CreatedAsync(batch, created, now, ct);
            await WriteNodeRunsAsync(batch, run.Id, result.NodeRuns, ct);
            var pending = result.Status == RunStatus.Suspended && created.Count == 0
                ? await batch.Tasks.CountAsync(t => t.ExecutionId == run.Id && t.Status == TaskStatuses.Pending, ct)
                : 0;
            var events = new ExecutionEventLog(run, definition).ForStep(item.Kind, task, result, created, pending, now);
            foreach (var e in events)
            {
                await StepRows.InsertEventAsync(batch, e, ct);
            }

            if (!await StepRows.UpdateRunAsync(batch, run, execution.Revision, ct))
            {
                throw new DbUpdateConcurrencyException($"Run {run.Id} changed after its step read it (revision {execution.Revision}).");
            }

            await StepRows.FinishItemAsync(batch, item.Id, now, ct);
            if (batch.ChangeTracker.HasChanges())
            {
                await batch.SaveChangesAsync(ct); // the new tasks, their assignees and their messages
            }

            var cancelled = result.Status is RunStatus.Completed or RunStatus.Failed
                ? await CancelPendingTasksAsync(batch, outbox, execution.Id, now, ct)
                : [];
            return ((events, created, cancelled), true);
        }, cancellationToken);
        ExecutionLog.Advanced(log, execution.Id, item.Kind, result.Status.ToString(), result.NewWaits.Count);

        await notifier.ExecutionEventsAsync(events);
        foreach (var createdTask in created)
        {
            await notifier.TaskChangedAsync(createdTask, created: true);
        }

        foreach (var cancelledTask in cancelled)
        {
            await notifier.TaskChangedAsync(cancelledTask, created: false);
        }

        return Done;
    }

    private const string Done = "done";
    private const string Skipped = "skipped";

    private async Task<AdvanceResult> AdvanceAsync(
        QueueItem item, ExecutionRecord execution, TaskRecord? task, WorkflowDefinition definition, CancellationToken cancellationToken)
    {
        if (item.Kind == QueueKinds.StartFrom)
        {
            if (execution.StateJson is not null || execution.ResumedFromExecutionId is null || execution.ResumedFromNodeId is null)
            {
                throw new NotWaitingException(definition.Start, []);
            }

            var completed = await CompletedUpToAsync(execution.ResumedFromExecutionId, execution.ResumedFromNodeId, cancellationToken);
            return await engine.StartFromAsync(definition, JsonNode.Parse(execution.InputJson), completed, execution.ResumedFromNodeId, cancellationToken, execution.Id);
        }

        if (item.Kind == QueueKinds.Start)
        {
            if (execution.StateJson is not null)
            {
                throw new NotWaitingException(definition.Start, []);
            }

            return await engine.StartAsync(definition, JsonNode.Parse(execution.InputJson), cancellationToken, execution.Id);
        }

        var state = RunState.Deserialize(execution.StateJson ?? throw new InvalidOperationException($"Run {execution.Id} has no state to continue."));
        state.RunId = execution.Id;
        ArgumentNullException.ThrowIfNull(task);
        var stack = ExecutionsFeature.Stack(task.StackJson);
        return item.Kind switch
        {
            QueueKinds.Resume when definition.Node(task.NodeId) is ToolCallNode => await ResumeToolCallAsync(definition, state, task, stack, cancellationToken),
            QueueKinds.Resume => await engine.ResumeAsync(definition, state, task.NodeId, stack,
                task.OutputJson is null ? null : JsonNode.Parse(task.OutputJson), cancellationToken),
            QueueKinds.Expire => await engine.ExpireAsync(definition, state, task.NodeId, stack, cancellationToken, await VotesOfAsync(task, cancellationToken)),
            _ => throw new InvalidOperationException($"Unknown queue item kind '{item.Kind}'."),
        };
    }

    /// <summary>
    /// The run is over: its waits left in other branches or iterations (including those this very step
    /// created) can no longer be answered. Guarded, so an answer that commits first keeps its task; call it
    /// after SaveChanges, inside the step's transaction. Returns the cancelled tasks, for the inboxes.
    /// </summary>
    public static async Task<List<TaskRecord>> CancelPendingTasksAsync(AppDbContext db, ITaskOutbox outbox, string executionId, DateTime now, CancellationToken cancellationToken)
    {
        // Plain SQL and a compiled read: every finished run comes here, in the writer's turn.
        await db.Database.ExecuteSqlAsync(
            $"""UPDATE "Tasks" SET "Status" = {TaskStatuses.Cancelled} WHERE "ExecutionId" = {executionId} AND "Status" = {TaskStatuses.Pending}""",
            cancellationToken);
        var cancelled = await CancelledQuery.For(db)(db, executionId).ToListAsync(cancellationToken);
        await outbox.SettledAsync(db, [.. cancelled.Select(t => t.ResId)], now, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        return cancelled;
    }

    private static Task<int> ClaimAsync(AppDbContext db, ExecutionRecord execution, CancellationToken cancellationToken) =>
        db.Database.ExecuteSqlAsync(
            $"""UPDATE "Executions" SET "Revision" = "Revision" WHERE "Id" = {execution.Id} AND "Revision" = {execution.Revision}""",
            cancellationToken);

    /// <summary>An approval that was being voted on: its votes, in order, and the tally (null for any other task).</summary>
    private async Task<(JsonArray, JsonNode, string)?> VotesOfAsync(TaskRecord task, CancellationToken cancellationToken)
    {
        if (Votes.Tally(task.TallyJson) is not { } tally)
        {
            return null;
        }

        var cast = await db.TaskVotes.AsNoTracking().Where(v => v.ResId == task.ResId).OrderBy(v => v.Id).ToListAsync(cancellationToken);
        return (Votes.AsJson(cast), Votes.TallyNode(tally)!, tally.Describe());
    }

    /// <summary>A tool-call answer is <c>{toolOutputs, messages}</c>: the outputs become the node's output, the messages join the transcript.</summary>
    private Task<AdvanceResult> ResumeToolCallAsync(WorkflowDefinition definition, RunState state, TaskRecord task, StackFrame[] stack, CancellationToken cancellationToken)
    {
        var answer = task.OutputJson is null ? null : JsonNode.Parse(task.OutputJson) as JsonObject;
        return engine.ResumeAsync(definition, state, task.NodeId, stack, answer?["toolOutputs"]?.DeepClone(), cancellationToken,
            answer?["messages"] as JsonArray);
    }

    /// <summary>
    /// The outputs of the top-level nodes an earlier run completed, in order, up to and including the
    /// last completion of <paramref name="nodeId"/>; a node that ran twice keeps its later output.
    /// </summary>
    public async Task<IReadOnlyList<(string NodeId, JsonNode? Output)>> CompletedUpToAsync(string executionId, string nodeId, CancellationToken cancellationToken)
    {
        var runs = await db.NodeRuns.AsNoTracking()
            .Where(r => r.ExecutionId == executionId && r.StackKey == string.Empty && r.Status == nameof(NodeRunStatus.Completed))
            .OrderBy(r => r.Id)
            .Select(r => new { r.Id, r.NodeId, r.OutputJson })
            .ToListAsync(cancellationToken);
        var last = runs.LastOrDefault(r => r.NodeId == nodeId)?.Id ?? long.MaxValue;
        var ordered = new List<(string NodeId, JsonNode? Output)>();
        foreach (var run in runs.Where(r => r.Id <= last))
        {
            ordered.RemoveAll(c => c.NodeId == run.NodeId);
            ordered.Add((run.NodeId, run.OutputJson is null ? null : JsonNode.Parse(run.OutputJson)));
        }

        return ordered;
    }

    private static void Apply(ExecutionRecord execution, AdvanceResult result, DateTime now)
    {
        execution.StateJson = result.State.Serialize();
        execution.Status = result.Status.ToString();
        execution.UpdatedAt = now;
        execution.Revision++;
        switch (result.Status)
        {
            case RunStatus.Completed:
                execution.OutputJson = result.Output?.ToJsonString();
                execution.CompletedAt = now;
                break;
            case RunStatus.Failed:
                execution.Error = Truncate(result.Error?.Message, 4000);
                execution.ErrorNodeId = result.Error?.NodeId;
                execution.CompletedAt = now;
                break;
        }
    }

    private static List<TaskRecord> AddTasks(AppDbContext db, ExecutionRecord execution, IReadOnlyList<WaitRequest> waits, DateTime now)
    {
        var created = new List<TaskRecord>();
        foreach (var wait in waits)
        {
            var resId = NewResId();
            var assignees = wait.Node is HumanNodeDefinition human ? human.Assignees : Assignees.None;
            var task = new TaskRecord
            {
                ResId = resId,
                ExecutionId = execution.Id,
                TenantId = execution.TenantId,
                WorkflowKey = execution.WorkflowKey,
                WorkflowVersion = execution.WorkflowVersion,
                NodeId = wait.Node.Id,
                StackJson = JsonSerializer.Serialize(wait.Stack, JsonOptions),
                StackKey = StackFrame.Key(wait.Stack),
                Kind = wait.Node.Kind.ToString(),
                Title = Truncate(wait.Title, 500)!,
                ToolCallsJson = wait.ToolCalls.Count > 0 ? JsonSerializer.Serialize(wait.ToolCalls, JsonOptions) : null,
                Status = TaskStatuses.Pending,
                CreatedAt = wait.Since.UtcDateTime,
                Made = TaskSequence.Next(),
                ExpiresAt = wait.ExpiresAt?.UtcDateTime,
                RequestedBy = execution.CreatedBy,
                TallyJson = wait.Node is ApprovalNode { Quorum: { } quorum } approval
                    ? Votes.TallyJson(quorum.ForRequester(execution.CreatedBy, approval.AllowRequester).Empty)
                    : null,
                Assignees =
                [
                    .. assignees.Users.Select(u => new TaskAssigneeRecord { ResId = resId, Kind = AssigneeKinds.User, Value = u }),
                    .. assignees.Groups.Select(g => new TaskAssigneeRecord { ResId = resId, Kind = AssigneeKinds.Group, Value = g }),
                ],
            };
            db.Tasks.Add(task);
            created.Add(task);
        }

        return created;
    }

    /// <summary>
    /// The step's node runs: a resumed node (or a finished loop) closes the row it opened when it began — in an earlier step,
    /// or earlier in this one — and every other node run is a new row, written in the order the engine ran them.
    /// </summary>
    private static async Task WriteNodeRunsAsync(AppDbContext db, string executionId, IReadOnlyList<NodeRunRecord> runs, CancellationToken cancellationToken)
    {
        var added = new List<NodeRunEntity>();
        var closed = new List<(long Id, NodeRunEntity Row)>();
        string[] open = [nameof(NodeRunStatus.Waiting), nameof(NodeRunStatus.Running)];
        foreach (var run in runs)
        {
            var stackKey = StackFrame.Key(run.Stack);
            NodeRunEntity? entity = null;
            if (run.Status is NodeRunStatus.Completed or NodeRunStatus.Failed)
            {
                entity = added.FirstOrDefault(r => r.NodeId == run.NodeId && r.StackKey == stackKey && open.Contains(r.Status));
                if (entity is null && await OpenNodeRunQuery.For(db)(db, executionId, run.NodeId, stackKey, cancellationToken) is { } stored)
                {
                    entity = stored;
                    closed.Add((stored.Id, stored));
                }
            }

            if (entity is null)
            {
                entity = new NodeRunEntity
                {
                    ExecutionId = executionId,
                    NodeId = run.NodeId,
                    NodeType = run.NodeType,
                    StackKey = stackKey,
                    StackJson = JsonSerializer.Serialize(run.Stack, JsonOptions),
                    Status = run.Status.ToString(),
                    StartedAt = run.StartedAt.UtcDateTime,
                };
                added.Add(entity);
            }

            entity.Status = run.Status.ToString();
            entity.OutputJson = run.Output?.ToJsonString();
            entity.Error = Truncate(run.Error, 4000);
            entity.CompletedAt = run.CompletedAt?.UtcDateTime;
        }

        foreach (var (id, row) in closed)
        {
            await StepRows.CloseNodeRunAsync(db, id, row, cancellationToken);
        }

        foreach (var row in added)
        {
            await StepRows.InsertNodeRunAsync(db, row, cancellationToken);
        }
    }

    private static ExecutionRecord Copy(ExecutionRecord run) => new()
    {
        Id = run.Id, TenantId = run.TenantId, WorkflowKey = run.WorkflowKey, WorkflowVersion = run.WorkflowVersion, Status = run.Status,
        InputJson = run.InputJson, StateJson = run.StateJson, OutputJson = run.OutputJson, Error = run.Error, ErrorNodeId = run.ErrorNodeId,
        CreatedBy = run.CreatedBy, CreatedAt = run.CreatedAt, UpdatedAt = run.UpdatedAt, CompletedAt = run.CompletedAt, Revision = run.Revision,
        LastSequence = run.LastSequence, ResumedFromExecutionId = run.ResumedFromExecutionId, ResumedFromNodeId = run.ResumedFromNodeId,
    };

    private async Task FinishAsync(QueueItem item, string note, CancellationToken cancellationToken)
    {
        db.Queue.Attach(item);
        item.Status = QueueStatuses.Done;
        item.CompletedAt = clock.GetUtcNow().UtcDateTime;
        item.LeasedUntil = null;
        item.LastError = Truncate(note, 4000);
        await db.SaveChangesAsync(cancellationToken);
    }

    /// <summary>256 random bits, URL-safe: the capability that addresses one suspension.</summary>
    public static string NewResId() =>
        Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    private static string? Truncate(string? text, int max) => text is null || text.Length <= max ? text : text[..max];
}

internal static partial class ExecutionLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Run {ExecutionId} advanced by {Kind}: now {Status}, {NewWaits} new wait(s)")]
    public static partial void Advanced(ILogger logger, string executionId, string kind, string status, int newWaits);

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue item {ItemId} ({Kind}) skipped: run {ExecutionId} is {Status}")]
    public static partial void SkippedFinishedRun(ILogger logger, long itemId, string kind, string executionId, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue item {ItemId} skipped: node {NodeId} of run {ExecutionId} is not waiting")]
    public static partial void SkippedNotWaiting(ILogger logger, long itemId, string executionId, string nodeId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue item {ItemId} of run {ExecutionId} failed (attempt {Attempt}); retrying at {RetryAt:yyyy-MM-ddTHH:mm:ss.fffZ}")]
    public static partial void Retrying(ILogger logger, long itemId, string executionId, int attempt, DateTime retryAt, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Queue item {ItemId} of run {ExecutionId} dead-lettered after {Attempts} attempts")]
    public static partial void DeadLettered(ILogger logger, long itemId, string executionId, int attempts, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Queue item {ItemId} of run {ExecutionId} lost a concurrent write; retrying at once")]
    public static partial void ConcurrencyRetry(ILogger logger, long itemId, string executionId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dead-lettered queue item {ItemId} of run {ExecutionId} retried by {Actor}; {Reopened} task(s) open again")]
    public static partial void RetriedDeadLetter(ILogger logger, long itemId, string executionId, string actor, int reopened);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dead-lettered queue item {ItemId} dismissed by {Actor}")]
    public static partial void DismissedDeadLetter(ILogger logger, long itemId, string actor);

    [LoggerMessage(Level = LogLevel.Error, Message = "The worker loop failed; it goes on after the next poll")]
    public static partial void LoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Task {NodeId} of run {ExecutionId} expired")]
    public static partial void TaskExpired(ILogger logger, string executionId, string nodeId);
}
