using Microsoft.AspNetCore.Identity;

namespace ApprovalStudio.Web.Infrastructure.Persistence;

/// <summary>A workflow key of a tenant; its versions are <see cref="WorkflowVersionRecord"/>.</summary>
public sealed class WorkflowRecord
{
    public required string TenantId { get; set; }
    public required string Key { get; set; }
    public required string Name { get; set; }
    public int LatestVersion { get; set; }

    /// <summary>SHA-256 of the webhook secret; the secret itself is shown once, at creation.</summary>
    public required byte[] WebhookSecretHash { get; set; }
    public byte[]? PreviousWebhookSecretHash { get; set; }
    public DateTime? PreviousWebhookSecretValidUntil { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
}

public sealed class WorkflowVersionRecord
{
    public required string TenantId { get; set; }
    public required string Key { get; set; }
    public int Version { get; set; }
    public required string DefinitionJson { get; set; }
    public required string CreatedBy { get; set; }
    public DateTime CreatedAt { get; set; }
}

public sealed class ExecutionRecord
{
    public required string Id { get; set; }
    public required string TenantId { get; set; }
    public required string WorkflowKey { get; set; }
    public int WorkflowVersion { get; set; }
    public required string Status { get; set; }
    public required string InputJson { get; set; }
    public string? StateJson { get; set; }
    public string? OutputJson { get; set; }
    public string? Error { get; set; }
    public string? ErrorNodeId { get; set; }
    public required string CreatedBy { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime UpdatedAt { get; set; }
    public DateTime? CompletedAt { get; set; }

    /// <summary>Optimistic concurrency token: bumped by every write of the run's state.</summary>
    public int Revision { get; set; }

    /// <summary>The sequence number of the run's last <see cref="ExecutionEventRecord"/>.</summary>
    public long LastSequence { get; set; }

    /// <summary>For a run made by resume-from: the failed run it continues, and the node it continues after.</summary>
    public string? ResumedFromExecutionId { get; set; }

    public string? ResumedFromNodeId { get; set; }
}

/// <summary>One state change of a run, numbered per run without gaps; what the execution hub replays and streams.</summary>
public sealed class ExecutionEventRecord
{
    public required string ExecutionId { get; set; }
    public long Sequence { get; set; }
    public required string TenantId { get; set; }
    public required string Type { get; set; }
    public string? NodeId { get; set; }
    public string? Status { get; set; }
    public DateTime At { get; set; }
    public string? DataJson { get; set; }
}

public static class TaskStatuses
{
    public const string Pending = "Pending";
    public const string Resolved = "Resolved";
    public const string Expired = "Expired";
    public const string Cancelled = "Cancelled";
}

/// <summary>A suspension a person or system may answer, addressed by its unguessable resId.</summary>
public sealed class TaskRecord
{
    public required string ResId { get; set; }
    public required string ExecutionId { get; set; }
    public required string TenantId { get; set; }
    public required string WorkflowKey { get; set; }
    public int WorkflowVersion { get; set; }
    public required string NodeId { get; set; }
    public required string StackJson { get; set; }
    public required string StackKey { get; set; }
    public required string Kind { get; set; }
    public required string Title { get; set; }
    public string? ToolCallsJson { get; set; }
    public required string Status { get; set; }
    public DateTime CreatedAt { get; set; }

    /// <summary>The order tasks were made in, for tasks made in the same instant (see TaskSequence).</summary>
    public long Made { get; set; }

    public DateTime? ExpiresAt { get; set; }
    public string? ResolvedBy { get; set; }
    public string? ResolvedByName { get; set; }
    public DateTime? ResolvedAt { get; set; }
    public string? Channel { get; set; }
    public string? OutputJson { get; set; }

    /// <summary>Who started the run (its CreatedBy when the task was made): an approval refuses their answer unless it allows the requester.</summary>
    public string? RequestedBy { get; set; }

    /// <summary>
    /// An approval with a quorum: where its vote stands (<c>{"approvals", "rejections", "required", "waitingFor"}</c>), kept
    /// with each vote; null for a task its first answer settles.
    /// </summary>
    public string? TallyJson { get; set; }

    public List<TaskAssigneeRecord> Assignees { get; set; } = [];
}

/// <summary>
/// One person's vote on an approval with a quorum (issue 15): one per person and task (a unique index holds it), in the
/// order cast (<see cref="Id"/>), with the groups they were in when they voted, for the policy's group sign-offs.
/// </summary>
public sealed class TaskVoteRecord
{
    public long Id { get; set; }
    public required string ResId { get; set; }
    public required string UserId { get; set; }
    public string? Name { get; set; }
    public required string Decision { get; set; }
    public string? Comment { get; set; }
    public required string Channel { get; set; }

    /// <summary>Comma-separated group names.</summary>
    public string Groups { get; set; } = string.Empty;

    public DateTime At { get; set; }
}

public static class AssigneeKinds
{
    public const string User = "user";
    public const string Group = "group";
}

public sealed class TaskAssigneeRecord
{
    public required string ResId { get; set; }
    public required string Kind { get; set; }
    public required string Value { get; set; }
}

public sealed class NodeRunEntity
{
    public long Id { get; set; }
    public required string ExecutionId { get; set; }
    public required string NodeId { get; set; }
    public required string NodeType { get; set; }
    public required string StackKey { get; set; }
    public required string StackJson { get; set; }
    public required string Status { get; set; }
    public string? OutputJson { get; set; }
    public string? Error { get; set; }
    public DateTime StartedAt { get; set; }
    public DateTime? CompletedAt { get; set; }
}

public static class QueueKinds
{
    public const string Start = "Start";
    public const string Resume = "Resume";
    public const string Expire = "Expire";
    public const string StartFrom = "StartFrom";
}

public static class QueueStatuses
{
    public const string Pending = Leases.Pending;
    public const string Leased = Leases.Leased;
    public const string Done = "Done";
    public const string DeadLettered = "DeadLettered";

    /// <summary>A dead letter an admin set aside without retrying it (the run went on another way, or is given up).</summary>
    public const string Dismissed = "Dismissed";
}

/// <summary>A durable unit of work for the background worker: start a run, continue it, expire a task.</summary>
public sealed class QueueItem : ILeasedRow
{
    public long Id { get; set; }
    public required string ExecutionId { get; set; }
    public required string Kind { get; set; }
    public string? ResId { get; set; }
    public required string Status { get; set; }
    public int Attempts { get; set; }
    public DateTime AvailableAt { get; set; }
    public DateTime? LeasedUntil { get; set; }
    public string? LeaseOwner { get; set; }
    public string? LastError { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? CompletedAt { get; set; }

    /// <summary>The W3C <c>traceparent</c> of the request that queued it: its step's span continues that trace.</summary>
    public string? TraceParent { get; set; }

    /// <summary>
    /// Of a dead letter: the node its last attempt failed in (an unforeseen error while the node ran), or else the node the
    /// step was to continue (the answered task's); null when neither is known (a start that failed before any node ran).
    /// </summary>
    public string? FailedNodeId { get; set; }
}

/// <summary>Who resolved what, when, through which channel, with what answer. Written with the consume.</summary>
public sealed class AuditRecord
{
    public long Id { get; set; }
    public required string TenantId { get; set; }
    public required string ExecutionId { get; set; }
    public required string ResId { get; set; }
    public required string NodeId { get; set; }
    public required string Action { get; set; }
    public required string Actor { get; set; }
    public string? ActorName { get; set; }
    public required string Channel { get; set; }

    /// <summary>Why the answerer could answer (assignee, webhook-secret, deep-link, agent-runtime); null on records before grants.</summary>
    public string? Grant { get; set; }

    public string? PayloadJson { get; set; }
    public DateTime At { get; set; }
}

/// <summary>
/// A person of a tenant's directory with a local sign-in (ASP.NET Core Identity: hashing, lockout).
/// <see cref="IdentityUser.UserName"/> is <c>user@tenant</c>, unique across tenants.
/// </summary>
public sealed class AppUser : IdentityUser
{
    public required string TenantId { get; set; }

    /// <summary>The actor id: the <c>sub</c> of this person's tokens and what assignees name.</summary>
    public required string UserId { get; set; }

    public required string DisplayName { get; set; }

    /// <summary>Comma-separated group names.</summary>
    public string Groups { get; set; } = string.Empty;

    /// <summary>Comma-separated roles (<c>admin</c>).</summary>
    public string Roles { get; set; } = string.Empty;

    public string? SlackUserId { get; set; }

    public static string LoginName(string tenant, string user) => $"{user}@{tenant}";

    public IReadOnlyList<string> GroupList => Split(Groups);

    public IReadOnlyList<string> RoleList => Split(Roles);

    private static string[] Split(string text) => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>A tenant's API key for machine callers (agent runtimes): shown once, stored as a SHA-256 hash.</summary>
public sealed class ApiKeyRecord
{
    public required string Id { get; set; }
    public required string TenantId { get; set; }
    public required string Name { get; set; }
    public required byte[] Hash { get; set; }
    public required string CreatedBy { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? RevokedAt { get; set; }
    public DateTime? LastUsedAt { get; set; }
}

public static class NotificationKinds
{
    /// <summary>A task was created: tell each assignee.</summary>
    public const string TaskCreated = "TaskCreated";

    /// <summary>A task's deadline is near and it is still open.</summary>
    public const string Reminder = "Reminder";

    /// <summary>Show the outcome of a Slack button press in the message it came from (through its response_url).</summary>
    public const string SlackResponse = "SlackResponse";

    /// <summary>A task was settled (answered anywhere, expired, cancelled): replace a Slack message sent for it (chat.update), so its buttons go.</summary>
    public const string SlackUpdate = "SlackUpdate";
}

public static class NotificationChannels
{
    public const string Email = "email";
    public const string Slack = "slack";
}

public static class NotificationStatuses
{
    public const string Pending = Leases.Pending;
    public const string Leased = Leases.Leased;
    public const string Sent = "Sent";

    /// <summary>Not sent on purpose: the task was answered first, or the recipient is gone.</summary>
    public const string Skipped = "Skipped";

    /// <summary>Gave up after the configured attempts; <see cref="NotificationRecord.LastError"/> says why.</summary>
    public const string Failed = "Failed";
}

/// <summary>
/// One message to one recipient through one channel: the notifications outbox. Written in the same
/// transaction as the task it is about, delivered by its own background service with leases, retries
/// and backoff, so a channel that is down never holds up a run or a resume.
/// </summary>
public sealed class NotificationRecord : ILeasedRow
{
    public long Id { get; set; }
    public required string TenantId { get; set; }
    public required string ExecutionId { get; set; }
    public required string ResId { get; set; }
    public required string Kind { get; set; }
    public required string Channel { get; set; }
    public string? RecipientUserId { get; set; }

    /// <summary>The email address, the Slack user (or channel) id, the response_url to answer, or the <c>channel/ts</c> of a message to update. Never logged.</summary>
    public required string Address { get; set; }

    /// <summary>For a Slack response: the message to post.</summary>
    public string? PayloadJson { get; set; }

    public required string Status { get; set; }
    public int Attempts { get; set; }
    public DateTime AvailableAt { get; set; }
    public DateTime? LeasedUntil { get; set; }
    public string? LeaseOwner { get; set; }
    public string? LastError { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? SentAt { get; set; }

    /// <summary>What the channel calls the message it made (Slack's <c>channel/ts</c>).</summary>
    public string? ExternalId { get; set; }

    /// <summary>
    /// Set when the row was taken over from a sender whose lease ran out before it recorded a result (its instance died): from
    /// when that send may have reached the channel. A Slack message is looked for from then on before it is posted again.
    /// Cleared once the row's result is recorded.
    /// </summary>
    public DateTime? InDoubtSince { get; set; }
}

/// <summary>A tenant's own version of one message template (Liquid, rendered with Fluid).</summary>
public sealed class MessageTemplateRecord
{
    public required string TenantId { get; set; }
    public required string Name { get; set; }
    public required string Source { get; set; }
    public required string UpdatedBy { get; set; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>The signature of a Slack request already taken, kept for the 5-minute window so that a replay is refused.</summary>
public sealed class SlackRequestRecord
{
    public required byte[] SignatureHash { get; set; }
    public DateTime ReceivedAt { get; set; }
}

public static class IdempotencyStatuses
{
    public const string InFlight = "InFlight";
    public const string Done = "Done";
}

/// <summary>
/// A request made with an <c>Idempotency-Key</c> (IETF draft-ietf-httpapi-idempotency-key-header): the first request's
/// fingerprint and, once answered, its answer, replayed to a retry with the same key and body until it expires.
/// <see cref="Scope"/>: the caller (tenant and user), or for the anonymous webhook route the run it addresses.
/// </summary>
public sealed class IdempotencyRecord
{
    public required string Scope { get; set; }
    public required string Key { get; set; }

    /// <summary>SHA-256 (hex) of the method, the path and the body.</summary>
    public required string Fingerprint { get; set; }

    public required string Status { get; set; }

    /// <summary>While in flight: until when the instance handling it holds it (after that, a retry may take it over).</summary>
    public DateTime? LockedUntil { get; set; }

    /// <summary>
    /// The run this request started, written in the start's own commit: a retry that takes the key over from an instance that
    /// died after that commit answers for this run instead of starting another.
    /// </summary>
    public string? ExecutionId { get; set; }

    public int? ResponseStatus { get; set; }
    public string? ResponseContentType { get; set; }
    public string? ResponseLocation { get; set; }
    public string? ResponseBody { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime ExpiresAt { get; set; }
}

/// <summary>
/// A running app instance, as its heartbeat says: what the Operations view lists, and how a survivor learns that an
/// instance died (its heartbeat stopped) and takes over what only that instance would have done — pushing the events it
/// committed but did not live to push.
/// </summary>
public sealed class InstanceRecord
{
    public required string Id { get; set; }
    public required string Host { get; set; }
    public int ProcessId { get; set; }
    public DateTime StartedAt { get; set; }
    public DateTime LastSeenAt { get; set; }

    /// <summary>Set once: when it stopped cleanly, or when a survivor took over after it died.</summary>
    public DateTime? EndedAt { get; set; }

    /// <summary>"stopped" (clean shutdown) or the id of the instance that recovered it.</summary>
    public string? EndedBy { get; set; }
}
