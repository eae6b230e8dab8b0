using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.People;
using ApprovalStudio.Web.Features.Workflows;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Faults;
using ApprovalStudio.Web.Infrastructure.Idempotency;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Telemetry;
using ApprovalStudio.Workflows.Definitions;
using ApprovalStudio.Workflows.Execution;
using ApprovalStudio.Workflows.Resumption;
using Microsoft.EntityFrameworkCore;
using StackFrame = ApprovalStudio.Workflows.Execution.StackFrame;

namespace ApprovalStudio.Web.Features.Resume;

/// <summary>
/// An answer to one suspension, from any channel (api, inbox, email, slack, webhook…), with the <paramref name="Grant"/>
/// that says why the caller may answer. <paramref name="AnsweredOn"/>: the channel's own message the answer was given on
/// (Slack's <c>channel/ts</c>), which that channel replaces itself; the task's other messages are replaced through the
/// notifications outbox.
/// </summary>
public sealed record ResumeCommand(string ResId, AnswerGrant Grant, string Channel, JsonNode? Body, string? AnsweredOn = null);

/// <summary>
/// The webhook dialect's address of a wait: a run, one of its wait nodes and the forEach iterations it sits in
/// (<paramref name="StackField"/>: the body field the stack came from, named in errors), with the secret presented.
/// </summary>
public sealed record WaitResumeCommand(string RunId, string NodeId, IReadOnlyList<StackFrame> Stack, string StackField, string? Secret, JsonNode? Data)
{
    /// <summary>"'n'", and "'n' at [stack]" inside forEach loops: how the webhook dialect's messages name a wait node.</summary>
    public static string Name(string nodeId, string stackKey) => stackKey.Length == 0 ? $"'{nodeId}'" : $"'{nodeId}' at [{stackKey}]";
}

/// <summary>
/// What the pipeline decided, for every channel and dialect; each maps it to its own answer (HTTP statuses, the webhook's
/// resumed/skipped, Slack's message, the inbox's alert) and none looks up task state itself.
/// </summary>
public abstract record ResumeOutcome
{
    /// <summary>Committed: the run goes on in the background. <paramref name="AfterSequence"/>: the run's last event before it.</summary>
    public sealed record Accepted(string ExecutionId, long AfterSequence = 0) : ResumeOutcome;

    public sealed record Invalid(IReadOnlyDictionary<string, string[]> Errors) : ResumeOutcome;

    /// <summary><paramref name="What"/>: what was not found, in words ("The task", "Run 'r1'").</summary>
    public sealed record NotFound(string What = "The task") : ResumeOutcome;

    /// <summary>Nothing there to answer, or the run is not in a state for it (not paused for tool calls, not failed…).</summary>
    public sealed record Conflict(string Title, string Reason, string? ExecutionId = null) : ResumeOutcome;

    public sealed record Forbidden(string Reason) : ResumeOutcome;

    /// <summary><paramref name="Decision"/>: what an approval decided (Approved, Rejected, RequestChanges); null for other tasks.</summary>
    public sealed record AlreadyResolved(
        string ExecutionId, string? ResolvedBy, string? ResolvedByName, DateTime? ResolvedAt, string? Channel, string? Decision = null) : ResumeOutcome
    {
        /// <summary>An approval settled by a vote: the tally it was settled with (<c>TallyJson</c>).</summary>
        public string? TallyJson { get; init; }
    }

    public sealed record Gone(string ExecutionId, DateTime? ExpiredAt, string Reason) : ResumeOutcome;

    /// <summary>
    /// Committed: a vote on an approval with a quorum that did not settle it (issue 15); the run still waits, and
    /// <paramref name="Tally"/> says where the vote stands.
    /// </summary>
    public sealed record Voted(string ExecutionId, QuorumTally Tally) : ResumeOutcome;

    /// <summary>The person has voted on this approval already (through any channel): nothing changed.</summary>
    public sealed record AlreadyVoted(string ExecutionId, string Decision, DateTime At, string Channel) : ResumeOutcome;
}

/// <summary>
/// The one resume pipeline (CONTRACT §4): every channel comes through here. It checks who may
/// answer and what the answer must be, then consumes the task exactly once — a guarded update
/// that only a still-pending, unexpired task passes — and in the same transaction writes the audit
/// record and the continuation's queue row. A rejected answer changes nothing.
/// </summary>
public sealed class ResumePipeline(
    AppDbContext db, TaskReader taskReader, WorkflowCatalog catalog, PeopleDirectory people, GroupCommit commits, QueueSignal signal, ExecutionNotifier notifier, ITaskOutbox outbox,
    AppTelemetry telemetry, FaultPoints faults, TimeProvider clock,
    ILogger<ResumePipeline> log)
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    /// <summary>The channel resume-from requests are counted under when the caller names none.</summary>
    public const string ResumeFromChannel = "resume-from";

    public Task<ResumeOutcome> ResumeAsync(ResumeCommand command, CancellationToken cancellationToken) =>
        ObserveAsync("resume", command.Channel, () => ResumeCoreAsync(command, cancellationToken));

    private async Task<ResumeOutcome> ResumeCoreAsync(ResumeCommand command, CancellationToken cancellationToken)
    {
        var task = await taskReader.FindAsync(db, command.ResId, cancellationToken);
        if (task is null)
        {
            return new ResumeOutcome.NotFound();
        }

        return await AnswerAsync(task, command, cancellationToken);
    }

    /// <summary>
    /// The webhook dialect: the pending task of a wait node, found by run, node and stack, answered with the workflow's
    /// webhook secret. A wait that is not pending is a <see cref="ResumeOutcome.Conflict"/>, an
    /// <see cref="ResumeOutcome.AlreadyResolved"/> or a <see cref="ResumeOutcome.Gone"/>, saying why.
    /// </summary>
    public Task<ResumeOutcome> ResumeWaitAsync(WaitResumeCommand command, string channel, CancellationToken cancellationToken) =>
        ObserveAsync("resume wait", channel, () => ResumeWaitCoreAsync(command, channel, cancellationToken));

    private async Task<ResumeOutcome> ResumeWaitCoreAsync(WaitResumeCommand command, string channel, CancellationToken cancellationToken)
    {
        var run = await db.Executions.AsNoTracking().SingleOrDefaultAsync(e => e.Id == command.RunId, cancellationToken);
        if (run is null)
        {
            return new ResumeOutcome.NotFound($"Run '{command.RunId}'");
        }

        var workflow = await db.Workflows.AsNoTracking().SingleAsync(w => w.TenantId == run.TenantId && w.Key == run.WorkflowKey, cancellationToken);
        if (!WorkflowCatalog.SecretMatches(workflow, command.Secret, clock.GetUtcNow().UtcDateTime))
        {
            return new ResumeOutcome.Forbidden("A valid webhook secret is required.");
        }

        var definition = await catalog.GetAsync(run.TenantId, run.WorkflowKey, run.WorkflowVersion, cancellationToken);
        if (!definition.Nodes.TryGetValue(command.NodeId, out var node))
        {
            return new ResumeOutcome.NotFound($"Node '{command.NodeId}' of run '{command.RunId}'");
        }

        var expected = definition.EnclosingLoops(command.NodeId);
        if (!expected.SequenceEqual(command.Stack.Select(f => f.ParentNodeId)))
        {
            var want = expected.Count == 0 ? "no stack" : $"a stack of [{string.Join(", ", expected)}], outermost first";
            return Invalid(command.StackField, $"Node '{command.NodeId}' needs {want}.");
        }

        if (node is not WaitNode)
        {
            return Invalid("nodeId", $"Node '{command.NodeId}' is a {node.Type} node; only wait nodes are resumed with the webhook secret.");
        }

        var stackKey = StackFrame.Key(command.Stack);
        var tasks = await db.Tasks.AsNoTracking().Include(t => t.Assignees)
            .Where(t => t.ExecutionId == run.Id && t.NodeId == command.NodeId && t.StackKey == stackKey)
            .OrderByDescending(t => t.CreatedAt)
            .ToListAsync(cancellationToken);
        var wait = WaitResumeCommand.Name(command.NodeId, stackKey);
        if (tasks.FirstOrDefault(t => t.Status == TaskStatuses.Pending) is { } pending)
        {
            var grant = new AnswerGrant.WebhookSecret(run.TenantId, run.WorkflowKey);
            return await AnswerAsync(pending, new ResumeCommand(pending.ResId, grant, channel, command.Data ?? new JsonObject()), cancellationToken);
        }

        if (tasks.FirstOrDefault(t => t.Status == TaskStatuses.Resolved) is { } resolved)
        {
            return Closed(resolved, clock.GetUtcNow().UtcDateTime)!;
        }

        const string NotWaiting = "This node is not waiting.";
        if (ExecutionStatuses.IsTerminal(run.Status))
        {
            return new ResumeOutcome.Conflict(NotWaiting, $"The run is over ({run.Status}); node {wait} is not waiting.", run.Id);
        }

        return tasks.Count > 0
            ? new ResumeOutcome.Conflict(NotWaiting, $"Node {wait} is no longer waiting ({tasks[0].Status}).", run.Id)
            : new ResumeOutcome.Conflict(NotWaiting, $"Node {wait} has not been reached.", run.Id);
    }

    /// <summary>
    /// The agent dialect: a run of the caller's tenant paused for tool calls gets their outputs (<paramref name="answer"/>:
    /// <c>{toolOutputs, messages?}</c>, checked against the task's pending calls like every answer).
    /// </summary>
    public Task<ResumeOutcome> ResumeToolCallsAsync(Actor actor, string executionId, JsonObject answer, string channel, CancellationToken cancellationToken) =>
        ObserveAsync("resume tool calls", channel, () => ResumeToolCallsCoreAsync(actor, executionId, answer, channel, cancellationToken));

    private async Task<ResumeOutcome> ResumeToolCallsCoreAsync(Actor actor, string executionId, JsonObject answer, string channel, CancellationToken cancellationToken)
    {
        var run = await db.Executions.AsNoTracking().SingleOrDefaultAsync(e => e.Id == executionId && e.TenantId == actor.TenantId, cancellationToken);
        if (run is null)
        {
            return new ResumeOutcome.NotFound($"Execution '{executionId}'");
        }

        var task = await db.Tasks.AsNoTracking().Include(t => t.Assignees)
            .Where(t => t.ExecutionId == executionId && t.Status == TaskStatuses.Pending && t.Kind == nameof(WaitKind.ToolCall))
            .OrderBy(t => t.CreatedAt).FirstOrDefaultAsync(cancellationToken);
        if (task is null)
        {
            return new ResumeOutcome.Conflict("This run is not paused for tool calls.", $"Execution '{executionId}' is {run.Status} and has no pending tool calls.", run.Id);
        }

        var outcome = await AnswerAsync(task, new ResumeCommand(task.ResId, new AnswerGrant.AgentRuntime(actor), channel, answer), cancellationToken);
        return outcome is ResumeOutcome.Accepted accepted ? accepted with { AfterSequence = run.LastSequence } : outcome;
    }

    /// <summary>
    /// Resume-from (CONTRACT §4.3): a failed run is left as it is; a new run, linked to it, inherits its input and the
    /// outputs of the nodes completed up to <paramref name="nodeId"/> and goes on from there.
    /// </summary>
    /// <param name="key">The request's <c>Idempotency-Key</c>: the new run's id is written on it in the start's commit.</param>
    public Task<ResumeOutcome> ResumeFromAsync(
        Actor actor, string runId, string nodeId, CancellationToken cancellationToken, string channel = ResumeFromChannel, IdempotencyHold? key = null) =>
        ObserveAsync("resume from", channel, () => ResumeFromCoreAsync(actor, runId, nodeId, key, cancellationToken));

    private async Task<ResumeOutcome> ResumeFromCoreAsync(Actor actor, string runId, string nodeId, IdempotencyHold? key, CancellationToken cancellationToken)
    {
        if (key?.Started is { } earlier)
        {
            // A retry of a resume-from whose instance died after committing the new run: that run is this request's.
            return new ResumeOutcome.Accepted(earlier);
        }

        var run = await db.Executions.AsNoTracking().SingleOrDefaultAsync(e => e.Id == runId && e.TenantId == actor.TenantId, cancellationToken);
        if (run is null)
        {
            return new ResumeOutcome.NotFound($"Run '{runId}'");
        }

        var definition = await catalog.GetAsync(run.TenantId, run.WorkflowKey, run.WorkflowVersion, cancellationToken);
        if (!definition.Nodes.ContainsKey(nodeId))
        {
            return new ResumeOutcome.NotFound($"Node '{nodeId}' of run '{runId}'");
        }

        const string CannotResumeFrom = "This run cannot be resumed from that node.";
        if (run.Status != ExecutionStatuses.Failed)
        {
            return new ResumeOutcome.Conflict(CannotResumeFrom, $"Run '{runId}' is {run.Status}; only a failed run can be resumed from a node.", run.Id);
        }

        var completed = await db.NodeRuns.AnyAsync(r => r.ExecutionId == runId && r.NodeId == nodeId && r.StackKey == string.Empty
            && r.Status == nameof(NodeRunStatus.Completed), cancellationToken);
        if (!completed)
        {
            return new ResumeOutcome.Conflict(CannotResumeFrom,
                $"Node '{nodeId}' did not complete successfully in run '{runId}' (nodes inside a forEach cannot be resumed from).", run.Id);
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var started = await RunStarts.StartAsync(commits, new ExecutionRecord
        {
            Id = RunStarts.NewId(), TenantId = run.TenantId, WorkflowKey = run.WorkflowKey, WorkflowVersion = run.WorkflowVersion,
            Status = ExecutionStatuses.Running, InputJson = run.InputJson, CreatedBy = actor.UserId, CreatedAt = now, UpdatedAt = now,
            ResumedFromExecutionId = run.Id, ResumedFromNodeId = nodeId,
        }, QueueKinds.StartFrom, cancellationToken, key);
        if (started is null)
        {
            return new ResumeOutcome.Conflict(IdempotencyHold.LostTitle, IdempotencyHold.LostDetail);
        }

        signal.Notify();
        faults.Hit(FaultPoints.StartAfterCommit);
        ResumeLog.ResumedFrom(log, run.Id, nodeId, started.Id, actor.UserId);
        return new ResumeOutcome.Accepted(started.Id);
    }

    /// <summary>
    /// One request through the pipeline as a span (<c>approvalstudio.channel</c>, <c>approvalstudio.outcome</c>, the run) and in the
    /// resume metrics. The span is current while the answer commits, so the continuation's queue row carries its trace.
    /// </summary>
    private async Task<ResumeOutcome> ObserveAsync(string name, string channel, Func<Task<ResumeOutcome>> resume)
    {
        using var activity = AppTelemetry.Source.StartActivity(name);
        activity?.SetTag("approvalstudio.channel", channel);
        var started = Stopwatch.GetTimestamp();
        var outcome = "error";
        try
        {
            var result = await resume();
            outcome = Name(result);
            if (activity is not null)
            {
                activity.SetTag("approvalstudio.outcome", outcome);
                activity.SetTag("approvalstudio.execution_id", result switch
                {
                    ResumeOutcome.Accepted a => a.ExecutionId,
                    ResumeOutcome.AlreadyResolved r => r.ExecutionId,
                    ResumeOutcome.Gone g => g.ExecutionId,
                    ResumeOutcome.Conflict c => c.ExecutionId,
                    ResumeOutcome.Voted v => v.ExecutionId,
                    ResumeOutcome.AlreadyVoted v => v.ExecutionId,
                    _ => null,
                });
            }

            return result;
        }
        catch (Exception ex) when (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            throw;
        }
        finally
        {
            telemetry.Resumed(channel, outcome, Stopwatch.GetElapsedTime(started));
        }
    }

    /// <summary>The outcome as metrics and spans name it.</summary>
    public static string Name(ResumeOutcome outcome) => outcome switch
    {
        ResumeOutcome.Accepted => "accepted",
        ResumeOutcome.Invalid => "invalid",
        ResumeOutcome.NotFound => "not_found",
        ResumeOutcome.Conflict => "conflict",
        ResumeOutcome.Forbidden => "forbidden",
        ResumeOutcome.AlreadyResolved => "already_resolved",
        ResumeOutcome.Gone => "gone",
        ResumeOutcome.Voted => "voted",
        ResumeOutcome.AlreadyVoted => "already_voted",
        _ => "unknown",
    };

    private static ResumeOutcome.Invalid Invalid(string field, string message) => new(new Dictionary<string, string[]> { [field] = [message] });

    /// <summary>Checks and consumes <paramref name="task"/> (read with its assignees) for the command, exactly once.</summary>
    private async Task<ResumeOutcome> AnswerAsync(TaskRecord task, ResumeCommand command, CancellationToken cancellationToken)
    {
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

        if (node is ApprovalNode { Quorum: { } quorum } approval)
        {
            return await VoteAsync(task, command, actor, approval, quorum.ForRequester(task.RequestedBy, approval.AllowRequester), check.Output!, now.UtcDateTime,
                cancellationToken);
        }

        var at = now.UtcDateTime;
        var output = check.Output?.ToJsonString();
        // Read here, not in the batch: the group commit may run this unit on another answer's flow.
        var traceParent = AppTelemetry.TraceParent();
        // Consumed exactly once, with the audit record, the `resumed` event and the continuation's queue row, in one
        // commit shared with the answers that arrive meanwhile (group commit); answered only once it is on disk.
        var resumed = await commits.RunAsync<ExecutionEventRecord?>(async (batch, ct) =>
        {
            var resumed = await ConsumeAsync(batch, task, actor, command, output, at, traceParent, ct);
            return (resumed, resumed is not null);
        }, cancellationToken);
        if (resumed is null)
        {
            var current = await db.Tasks.AsNoTracking().SingleAsync(t => t.ResId == task.ResId, cancellationToken);
            return Closed(current, at) ?? throw new InvalidOperationException($"Task of run {task.ExecutionId} was not consumed but is still open.");
        }

        return await AcceptedAsync(task, actor, command, resumed, at);
    }

    /// <summary>
    /// Consumes the pending <paramref name="task"/> in <paramref name="batch"/> (the writer's turn): the answer, the run's
    /// <c>resumed</c> event, the audit record and the continuation's queue row. Null when the task was no longer pending.
    /// </summary>
    private async Task<ExecutionEventRecord?> ConsumeAsync(
        AppDbContext batch, TaskRecord task, Actor actor, ResumeCommand command, string? output, DateTime at, string? traceParent, CancellationToken ct)
    {
        // Plain statements in the writer's turn, which every answer and step waits for: translating them from LINQ was
        // 60 % of the answer's time in it, and EF's change tracking and raw-SQL pipeline most of the rest (perf, resume ×16).
        var consumed = await batch.ExecuteAsync(ConsumeSql, ct, TaskStatuses.Resolved, actor.UserId, actor.Name, at, command.Channel, output, task.ResId,
            TaskStatuses.Pending);
        if (consumed != 1)
        {
            return null;
        }

        // The run's `resumed` event belongs to this moment (the answer is on disk when the 202 goes out), not to the
        // continuation's step: its number is taken here, under the run's revision, so a step that read the run before
        // this fails its save and is redone after it, and the sequence stays gapless and ordered.
        var sequence = await NextSequenceAsync(batch, task.ExecutionId, at, answered: true, ct);
        var resumed = ExecutionEventLog.Resumed(task, sequence, actor.UserId, actor.Name, command.Channel, at);
        await StepRows.InsertEventAsync(batch, resumed, ct);
        await outbox.SettledAsync(batch, [task.ResId], at, ct, command.AnsweredOn);
        await batch.ExecuteAsync(InsertAuditSql, ct,
            task.TenantId, task.ExecutionId, task.ResId, task.NodeId, "Resumed", actor.UserId, actor.Name, command.Channel, command.Grant.Name, at, output);
        await batch.ExecuteAsync(InsertQueueSql, ct, task.ExecutionId, QueueKinds.Resume, task.ResId, QueueStatuses.Pending, at, at, traceParent);
        faults.Hit(FaultPoints.ResumeBeforeCommit);
        return resumed;
    }

    /// <summary>
    /// Takes the number of the run's next event, under its revision; <paramref name="answered"/>: marks the run Resuming too,
    /// unless it is over (a vote that settles nothing leaves its status as it is).
    /// </summary>
    private static Task<long> NextSequenceAsync(AppDbContext batch, string executionId, DateTime at, bool answered, CancellationToken ct) =>
        batch.ScalarAsync<long>(batch is SqlServerAppDbContext ? NextSequenceSqlServer : NextSequenceSql, ct,
            answered ? ExecutionStatuses.Suspended : string.Empty, answered ? ExecutionStatuses.Running : string.Empty, ExecutionStatuses.Resuming, at, executionId);

    /// <summary>After the commit: wake the worker, tell the run's watchers and the inboxes.</summary>
    private async Task<ResumeOutcome> AcceptedAsync(TaskRecord task, Actor actor, ResumeCommand command, ExecutionEventRecord resumed, DateTime at)
    {
        faults.Hit(FaultPoints.ResumeAfterCommit);
        signal.Notify();
        ResumeLog.Accepted(log, task.ExecutionId, task.NodeId, actor.UserId, command.Channel, command.Grant.Name);
        task.Status = TaskStatuses.Resolved;
        task.ResolvedBy = actor.UserId;
        task.ResolvedByName = actor.Name;
        task.ResolvedAt = at;
        task.Channel = command.Channel;
        await notifier.ExecutionEventsAsync([resumed]);
        await notifier.TaskChangedAsync(task, created: false);
        return new ResumeOutcome.Accepted(task.ExecutionId);
    }

    /// <summary>
    /// A vote on an approval with a quorum (issue 15). In the writer's turn the task's row is taken first (a guarded update
    /// only a pending, unexpired task passes; on PostgreSQL and SQL Server it locks the row, so votes on one task count one
    /// after another on every instance), then the votes so far are read and this one added. The vote that meets the policy
    /// consumes the task as any answer does, its output listing every vote; one that does not records itself, the tally and
    /// a <c>voted</c> event. A second vote by the same person changes nothing (a unique index backs the check).
    /// </summary>
    private async Task<ResumeOutcome> VoteAsync(
        TaskRecord task, ResumeCommand command, Actor actor, ApprovalNode node, QuorumPolicy quorum, JsonNode answer, DateTime at, CancellationToken cancellationToken)
    {
        var electorate = quorum.RejectOn == RejectOn.Unreachable ? await ElectorateAsync(task, node, quorum, cancellationToken) : [];
        var vote = new TaskVoteRecord
        {
            ResId = task.ResId, UserId = actor.UserId, Name = actor.Name, Decision = (string)answer["decision"]!, Comment = (string?)answer["comment"],
            // Only the groups the policy asks to sign off: what the vote counts for, whatever else the voter's token names.
            Channel = command.Channel, Groups = string.Join(',', quorum.Groups.Where(actor.Groups.Contains)), At = at,
        };
        var traceParent = AppTelemetry.TraceParent();
        var (outcome, settled) = await commits.RunAsync<(ResumeOutcome? Outcome, ExecutionEventRecord? Event)>(async (batch, ct) =>
        {
            // The run's row first, then the task's: the order a worker's step takes them in (it claims the run, then cancels
            // the run's tasks), so that a vote and a step on one run wait for each other instead of deadlocking.
            await batch.ExecuteAsync(TakeRunSql, ct, task.ExecutionId);
            if (await batch.ExecuteAsync(TakeTaskSql, ct, task.ResId, TaskStatuses.Pending, at) != 1)
            {
                return ((null, null), false);
            }

            var votes = await batch.TaskVotes.AsNoTracking().Where(v => v.ResId == task.ResId).OrderBy(v => v.Id).ToListAsync(ct);
            if (votes.FirstOrDefault(v => v.UserId == vote.UserId) is { } earlier)
            {
                return ((new ResumeOutcome.AlreadyVoted(task.ExecutionId, earlier.Decision, earlier.At, earlier.Channel), null), false);
            }

            await batch.ExecuteAsync(InsertVoteSql, ct, vote.ResId, vote.UserId, vote.Name, vote.Decision, vote.Comment, vote.Channel, vote.Groups, vote.At);
            votes.Add(vote);
            var voted = votes.Select(v => v.UserId).ToHashSet(StringComparer.Ordinal);
            var result = quorum.Evaluate([.. votes.Select(v => new Vote(Votes.Voter(v), v.Decision))], [.. electorate.Where(p => !voted.Contains(p.UserId))]);
            var tallyJson = Votes.TallyJson(result.Tally);
            await batch.ExecuteAsync(TallySql, ct, tallyJson, task.ResId);
            if (result.Decision is null)
            {
                var sequence = await NextSequenceAsync(batch, task.ExecutionId, at, answered: false, ct);
                var votedEvent = Votes.VotedEvent(task, sequence, vote, result.Tally);
                await StepRows.InsertEventAsync(batch, votedEvent, ct);
                await batch.ExecuteAsync(InsertAuditSql, ct, task.TenantId, task.ExecutionId, task.ResId, task.NodeId, Votes.VotedAction, actor.UserId, actor.Name,
                    command.Channel, command.Grant.Name, at, answer.ToJsonString());
                await outbox.TallyChangedAsync(batch, task.ResId, at, ct, command.AnsweredOn);
                return ((new ResumeOutcome.Voted(task.ExecutionId, result.Tally), votedEvent), true);
            }

            // Settled by this vote: the node's output is the decision, with the deciding vote's comment, and every vote.
            var deciding = votes.Last(v => v.UserId == result.Deciding!.Voter.UserId);
            var output = new JsonObject
            {
                ["decision"] = result.Decision, ["comment"] = deciding.Comment, ["actor"] = deciding.UserId, ["at"] = new DateTimeOffset(deciding.At, TimeSpan.Zero),
                ["votes"] = Votes.AsJson(votes),
            };
            var resumed = await ConsumeAsync(batch, task, actor, command, output.ToJsonString(), at, traceParent, ct)
                ?? throw new InvalidOperationException($"Task of run {task.ExecutionId} was taken for a vote but not consumed.");
            return ((null, resumed), true);
        }, cancellationToken);

        switch (outcome, settled)
        {
            case (null, null):
                var current = await db.Tasks.AsNoTracking().SingleAsync(t => t.ResId == task.ResId, cancellationToken);
                return Closed(current, at) ?? throw new InvalidOperationException($"Task of run {task.ExecutionId} was not taken but is still open.");
            case (ResumeOutcome.AlreadyVoted already, _):
                return already;
            case (ResumeOutcome.Voted open, { } votedEvent):
                ResumeLog.Voted(log, task.ExecutionId, task.NodeId, actor.UserId, command.Channel, open.Tally.Approvals, open.Tally.Required);
                // The task stays in every inbox (a task change would take it out): pages showing it hear the `voted` event.
                await notifier.ExecutionEventsAsync([votedEvent]);
                return open;
            default:
                return await AcceptedAsync(task, actor, command, settled!, at);
        }
    }

    /// <summary>
    /// Who may vote, for <c>rejectOn: unreachable</c>: the users the node names and the directory's members of the groups it
    /// names (each with the groups of the policy they are in), less the person who started the run unless the node lets them
    /// approve, and — with the workflow's <c>distinctApprovers</c> — less whoever answered another approval step of the run.
    /// Admins may vote too, but are not counted on.
    /// </summary>
    private async Task<List<Voter>> ElectorateAsync(TaskRecord task, ApprovalNode node, QuorumPolicy quorum, CancellationToken cancellationToken)
    {
        Voter Voter(string userId, IEnumerable<string> groups) => new(userId, [.. quorum.Groups.Where(groups.Contains)]);
        var people = await PeopleDirectory.AssignedAsync(db, task.TenantId, node.Assignees.Users, node.Assignees.Groups, cancellationToken);
        var electorate = people.ToDictionary(p => p.UserId, p => Voter(p.UserId, p.GroupList), StringComparer.Ordinal);

        // A user the node names may vote whether the directory knows them or not (a token names its own groups).
        foreach (var user in node.Assignees.Users)
        {
            electorate.TryAdd(user, Voter(user, []));
        }

        if (!node.AllowRequester && task.RequestedBy is { } requester)
        {
            electorate.Remove(requester);
        }

        var definition = await catalog.GetAsync(task.TenantId, task.WorkflowKey, task.WorkflowVersion, cancellationToken);
        if (definition.DistinctApprovers)
        {
            foreach (var barred in await AnsweredOtherApprovalsAsync(task, definition, cancellationToken))
            {
                electorate.Remove(barred);
            }
        }

        return [.. electorate.Values];
    }

    /// <summary>Who answered (or voted on) another approval step of the task's run.</summary>
    private async Task<List<string>> AnsweredOtherApprovalsAsync(TaskRecord task, WorkflowDefinition definition, CancellationToken cancellationToken)
    {
        var others = definition.Nodes.Values.OfType<ApprovalNode>().Where(n => n.Id != task.NodeId).Select(n => n.Id).ToList();
        return others.Count == 0 ? [] : await db.Audit.AsNoTracking()
            .Where(a => a.ExecutionId == task.ExecutionId && (a.Action == "Resumed" || a.Action == Votes.VotedAction) && others.Contains(a.NodeId))
            .Select(a => a.Actor).Distinct().ToListAsync(cancellationToken);
    }

    // The answer's statements (plain, kept prepared: ExecuteAsync). Consumed only while pending and unexpired: the guard
    // that makes an answer count once, whatever raced it.
    private const string ConsumeSql = """
        UPDATE "Tasks" SET "Status" = @p0, "ResolvedBy" = @p1, "ResolvedByName" = @p2, "ResolvedAt" = @p3, "Channel" = @p4, "OutputJson" = @p5
        WHERE "ResId" = @p6 AND "Status" = @p7 AND ("ExpiresAt" IS NULL OR "ExpiresAt" > @p3)
        """;

    // Marks the run answered (Resuming, unless it is already over; nothing matches the empty status a vote passes) and takes
    // the number of its next event, in one statement: RETURNING on SQLite and PostgreSQL, OUTPUT on SQL Server.
    private const string NextSequenceSql = """
        UPDATE "Executions" SET "Status" = CASE WHEN "Status" IN (@p0, @p1) THEN @p2 ELSE "Status" END,
            "UpdatedAt" = @p3, "LastSequence" = "LastSequence" + 1, "Revision" = "Revision" + 1
        WHERE "Id" = @p4
        RETURNING "LastSequence"
        """;

    private const string NextSequenceSqlServer = """
        UPDATE "Executions" SET "Status" = CASE WHEN "Status" IN (@p0, @p1) THEN @p2 ELSE "Status" END,
            "UpdatedAt" = @p3, "LastSequence" = "LastSequence" + 1, "Revision" = "Revision" + 1
        OUTPUT INSERTED."LastSequence"
        WHERE "Id" = @p4
        """;

    private const string TakeRunSql = """UPDATE "Executions" SET "Revision" = "Revision" WHERE "Id" = @p0""";

    // Takes a voting task's row for one vote (a no-op write that locks it on PostgreSQL and SQL Server), pending and unexpired only.
    private const string TakeTaskSql = """
        UPDATE "Tasks" SET "Status" = "Status" WHERE "ResId" = @p0 AND "Status" = @p1 AND ("ExpiresAt" IS NULL OR "ExpiresAt" > @p2)
        """;

    private const string TallySql = """UPDATE "Tasks" SET "TallyJson" = @p0 WHERE "ResId" = @p1""";

    private const string InsertVoteSql = """
        INSERT INTO "TaskVotes" ("ResId", "UserId", "Name", "Decision", "Comment", "Channel", "Groups", "At")
        VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7)
        """;

    private const string InsertAuditSql = """
        INSERT INTO "Audit" ("TenantId", "ExecutionId", "ResId", "NodeId", "Action", "Actor", "ActorName", "Channel", "Grant", "At", "PayloadJson")
        VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9, @p10)
        """;

    private const string InsertQueueSql = """
        INSERT INTO "Queue" ("ExecutionId", "Kind", "ResId", "Status", "Attempts", "AvailableAt", "CreatedAt", "TraceParent")
        VALUES (@p0, @p1, @p2, @p3, 0, @p4, @p5, @p6)
        """;

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
                return (actor, Answerers.May(actor, task) ? await ApprovalRefusalAsync(task, actor, cancellationToken) : "You are not an assignee of this task.");
            case AnswerGrant.DeepLink link:
                var recipient = PeopleDirectory.AsAssignee(link.Tenant, link.UserId, await people.FindAsync(link.Tenant, link.UserId, cancellationToken));
                return (recipient, Answerers.May(recipient, task)
                    ? await ApprovalRefusalAsync(task, recipient, cancellationToken)
                    : "You are no longer one of its assignees.");
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

    /// <summary>
    /// Separation of duties, for approvals, on every channel: the person who started the run may not approve it unless its
    /// node says <c>allowRequester</c>; and with the workflow's <c>distinctApprovers</c>, whoever answered one approval step
    /// of the run may not answer another. Null when they may.
    /// </summary>
    private async Task<string?> ApprovalRefusalAsync(TaskRecord task, Actor answerer, CancellationToken cancellationToken)
    {
        if (task.Kind != nameof(WaitKind.Approval))
        {
            return null;
        }

        var definition = await catalog.GetAsync(task.TenantId, task.WorkflowKey, task.WorkflowVersion, cancellationToken);
        if (task.RequestedBy is not null && task.RequestedBy == answerer.UserId && definition.Node(task.NodeId) is ApprovalNode { AllowRequester: false })
        {
            return "You started this run, so someone else must approve it (separation of duties).";
        }

        if (definition.DistinctApprovers && (await AnsweredOtherApprovalsAsync(task, definition, cancellationToken)).Contains(answerer.UserId))
        {
            return "You answered another approval step of this run, so someone else must answer this one (separation of duties).";
        }

        return null;
    }

    // Stands in for the answerer of a refused grant; a refusal records no one, so nothing reads it.
    private static Actor Nobody(AnswerGrant grant) => new(grant.TenantId, grant.Name, grant.Name, new HashSet<string>(), new HashSet<string>());

    private static ResumeOutcome? Closed(TaskRecord task, DateTime now) => task.Status switch
    {
        TaskStatuses.Resolved => new ResumeOutcome.AlreadyResolved(task.ExecutionId, task.ResolvedBy, task.ResolvedByName, task.ResolvedAt, task.Channel,
            TaskOutcomes.Decision(task)) { TallyJson = task.TallyJson },
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Vote on {NodeId} in run {ExecutionId} from {Actor} via {Channel}: {Approvals} of {Required} approvals")]
    public static partial void Voted(ILogger logger, string executionId, string nodeId, string actor, string channel, int approvals, int required);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {ExecutionId} resumed from {NodeId} as run {NewExecutionId} by {Actor}")]
    public static partial void ResumedFrom(ILogger logger, string executionId, string nodeId, string newExecutionId, string actor);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Resume of {NodeId} in run {ExecutionId} refused for grant {Grant}: {Reason}")]
    public static partial void Refused(ILogger logger, string executionId, string nodeId, string grant, string reason);
}
