using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.People;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Features.Workflows;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Workflows.Definitions;
using ApprovalStudio.Workflows.Execution;
using ApprovalStudio.Workflows.Resumption;
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

/// <summary>One pending task in the inbox: stored ids and names, and what the page shows instead of them.</summary>
public sealed record InboxRow(string ResId, string ExecutionId, string WorkflowKey, string Kind, string Title, string Requester, DateTime CreatedAt, DateTime? ExpiresAt)
{
    /// <summary>The requester's name from the directory (the id when the directory does not know it).</summary>
    public string RequesterName { get; init; } = Requester;

    /// <summary>The workflow's name (its key when it has none).</summary>
    public string WorkflowName { get; init; } = WorkflowKey;

    /// <summary>The task page's address, made once per row rather than on every render of every open inbox.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Href { get; } = "/tasks/" + ResId;

    /// <summary>An approval with a quorum, being voted on (issue 15).</summary>
    public bool Voting { get; init; }
}

/// <param name="Voted">The rows' approvals the viewer has voted on already (they wait for the others).</param>
public sealed record InboxSlice(IReadOnlyList<InboxRow> Rows, int Total, IReadOnlySet<string>? Voted = null);

/// <summary>A workflow as the inbox's filter offers it: filtered on its key, shown by its name.</summary>
public sealed record WorkflowChoice(string Key, string Name);

/// <summary>What the history page asks for: a search (title, workflow, comment) and answered-at bounds in UTC (from inclusive, to exclusive).</summary>
public sealed record HistoryFilter(string? Search = null, DateTime? From = null, DateTime? To = null)
{
    public bool IsEmpty => string.IsNullOrWhiteSpace(Search) && From is null && To is null;
}

public sealed record HistoryRow(string ResId, string ExecutionId, string WorkflowKey, string Kind, string Title, DateTime? ResolvedAt, string? Channel, JsonNode? Response)
{
    public string WorkflowName { get; init; } = WorkflowKey;

    /// <summary>The answer in plain words ("Approved: looks right", "Department: Engineering").</summary>
    public string Answer { get; init; } = string.Empty;
}

public sealed record HistorySlice(IReadOnlyList<HistoryRow> Rows, int Total);

/// <summary>
/// A task as the task page shows it: the node that asks, the run's context, and its state. People are named as the
/// directory names them (<see cref="Requester"/>, <see cref="AnsweredBy"/>), nodes by their titles (<see cref="NodeTitles"/>).
/// </summary>
public sealed record TaskView(
    TaskRecord Task, WaitingNodeDefinition Node, string Requester, JsonNode? Input, IReadOnlyList<NodeOutput> Outputs, long LastSequence,
    IReadOnlyDictionary<string, string> NodeTitles, string? AnsweredBy, string WorkflowName)
{
    public string Title(string? nodeId) => Inbox.NodeTitles.Of(NodeTitles, nodeId);

    /// <summary>An approval with a quorum: the votes cast so far, in order (issue 15); empty for any other task.</summary>
    public IReadOnlyList<TaskVoteRecord> Votes { get; init; } = [];

    /// <summary>An approval with a quorum: where its vote stands, the people it waits for named as the directory names them.</summary>
    public QuorumTally? Tally { get; init; }
}

/// <summary>What an earlier node of the run produced, headed by the node's title.</summary>
public sealed record NodeOutput(string NodeId, string Title, JsonNode? Output);

/// <summary>A run as its page shows it: the stored rows, and the names and titles to show instead of ids.</summary>
public sealed record ExecutionView(ExecutionRecord Execution, IReadOnlyList<NodeRunEntity> Nodes)
{
    /// <summary>The workflow's name, from the run's version of the definition.</summary>
    public string WorkflowName { get; init; } = Execution.WorkflowKey;

    /// <summary>Who started the run, by name.</summary>
    public string StartedByName { get; init; } = Execution.CreatedBy;

    /// <summary>Node run id → its title: the task's rendered title, the node's own title, or its id in words.</summary>
    public IReadOnlyDictionary<long, string> RunTitles { get; init; } = new Dictionary<long, string>();

    /// <summary>Node id → its title (for a node without a run of its own, such as the one a resumed run went on after).</summary>
    public IReadOnlyDictionary<string, string> NodeTitles { get; init; } = new Dictionary<string, string>();

    /// <summary>The run's tasks: resId → title.</summary>
    public IReadOnlyDictionary<string, string> TaskTitles { get; init; } = new Dictionary<string, string>();

    /// <summary>Display names for the user ids the page shows (message recipients).</summary>
    public IReadOnlyDictionary<string, string> People { get; init; } = new Dictionary<string, string>();

    public string TitleOf(NodeRunEntity run) =>
        RunTitles.TryGetValue(run.Id, out var title) ? title : TitleOf(run.NodeId);

    public string TitleOf(string nodeId) => Inbox.NodeTitles.Of(NodeTitles, nodeId);
}

/// <summary>
/// The inbox's reads. Blazor circuits live long, so every call gets its own scope and DbContext.
/// Paging and filtering happen in the database, so a tenant with 100,000 pending tasks stays fast.
/// </summary>
public sealed class InboxQueries(IServiceScopeFactory scopes, TimeProvider clock)
{
    /// <summary>Tags (SQL comments) of the live inbox's reads, so a database log — and a test — can tell them apart.</summary>
    public const string CountTag = "inbox: pending count", ListTag = "inbox: list", RowsTag = "inbox: new rows";

    public async Task<int> CountPendingAsync(Actor actor, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        return await db.Tasks.AsNoTracking().TagWith(CountTag).AnswerableBy(actor).CountAsync(t => t.Status == TaskStatuses.Pending, cancellationToken);
    }

    /// <summary>
    /// A page of the pending tasks the actor may answer, and how many match. <paramref name="knownTotal"/> (the inbox's
    /// kept count, for an unfiltered list) spares the COUNT, which over 100,000 pending tasks costs more than the page.
    /// </summary>
    public async Task<InboxSlice> ListAsync(Actor actor, InboxFilter filter, int page, int pageSize, CancellationToken cancellationToken, int? knownTotal = null)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var now = clock.GetUtcNow().UtcDateTime;
        var query = db.Tasks.AsNoTracking().TagWith(ListTag).AnswerableBy(actor).Where(t => t.Status == TaskStatuses.Pending);
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
            var text = filter.Search.Trim().ToLowerInvariant();
            var named = await WorkflowsNamedAsync(db, actor.TenantId, text, cancellationToken);

            // Titles and keys by a case-insensitive LIKE: no lower() of every pending task's title (on SQLite it halves a
            // search over 100,000 of them; LIKE there ignores the case of ASCII letters, as its lower() changes only those).
            var pattern = "%" + Like.Escape(filter.Search.Trim()) + "%";
            query = db.Database.IsNpgsql()
                ? query.Where(t => EF.Functions.ILike(t.Title, pattern, Like.EscapeCharacter) || EF.Functions.ILike(t.WorkflowKey, pattern, Like.EscapeCharacter) || named.Contains(t.WorkflowKey))
                : query.Where(t => EF.Functions.Like(t.Title, pattern, Like.EscapeCharacter) || EF.Functions.Like(t.WorkflowKey, pattern, Like.EscapeCharacter) || named.Contains(t.WorkflowKey));
        }

        var filtered = query;

        // Tasks made in the same instant (one step's loop iterations, two runs at once, a coarse clock) tie on CreatedAt;
        // Made is the order they were made in (stored with each, indexed with CreatedAt).
        query = filter.Sort switch
        {
            InboxSort.Oldest => query.OrderBy(t => t.CreatedAt).ThenBy(t => t.Made).ThenBy(t => t.ResId),
            InboxSort.DeadlineFirst => query.OrderBy(t => t.ExpiresAt == null).ThenBy(t => t.ExpiresAt).ThenByDescending(t => t.CreatedAt).ThenByDescending(t => t.Made).ThenBy(t => t.ResId),
            InboxSort.Title => query.OrderBy(t => t.Title).ThenByDescending(t => t.CreatedAt).ThenByDescending(t => t.Made).ThenBy(t => t.ResId),
            _ => query.OrderByDescending(t => t.CreatedAt).ThenByDescending(t => t.Made).ThenBy(t => t.ResId),
        };
        var rows = await Rows(db, query.Skip(page * pageSize).Take(pageSize)).ToListAsync(cancellationToken);

        // A page that is not full is the last: the count is in hand without a COUNT (a search scans every pending task once,
        // not twice), and exact whatever a kept count says.
        var total = rows.Count < pageSize && (rows.Count > 0 || page == 0)
            ? (page * pageSize) + rows.Count
            : knownTotal ?? await filtered.CountAsync(cancellationToken);
        // Approvals being voted on that this person has voted on: still theirs to see, no longer theirs to answer.
        var voting = rows.Where(r => r.Voting).Select(r => r.ResId).ToList();
        var voted = voting.Count == 0 ? null : (await db.TaskVotes.AsNoTracking()
            .Where(v => v.UserId == actor.UserId && voting.Contains(v.ResId)).Select(v => v.ResId).ToListAsync(cancellationToken)).ToHashSet(StringComparer.Ordinal);
        return new InboxSlice(await NamedAsync(db, actor.TenantId, rows, cancellationToken), total, voted);
    }

    /// <summary>The inbox rows of the given tasks that are still pending, by resId: what a live page adds when they appear.</summary>
    public async Task<Dictionary<string, InboxRow>> RowsAsync(IReadOnlyCollection<(string TenantId, string ResId)> tasks, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var found = new Dictionary<string, InboxRow>(StringComparer.Ordinal);
        foreach (var tenant in tasks.GroupBy(t => t.TenantId, StringComparer.Ordinal))
        {
            var ids = tenant.Select(t => t.ResId).Distinct(StringComparer.Ordinal).ToList();
            var rows = await Rows(db, db.Tasks.AsNoTracking().TagWith(RowsTag).Where(t => t.TenantId == tenant.Key && ids.Contains(t.ResId) && t.Status == TaskStatuses.Pending))
                .ToListAsync(cancellationToken);
            foreach (var row in await NamedAsync(db, tenant.Key, rows, cancellationToken))
            {
                found[row.ResId] = row;
            }
        }

        return found;
    }

    private static IQueryable<InboxRow> Rows(AppDbContext db, IQueryable<TaskRecord> tasks) =>
        tasks.Join(db.Executions, t => t.ExecutionId, e => e.Id, (t, e) => new InboxRow(t.ResId, t.ExecutionId, t.WorkflowKey, t.Kind, t.Title, e.CreatedBy, t.CreatedAt, t.ExpiresAt)
        {
            Voting = t.TallyJson != null,
        });

    /// <summary>Requesters and workflows by the names the directory and the definitions give them.</summary>
    private static async Task<IReadOnlyList<InboxRow>> NamedAsync(AppDbContext db, string tenantId, IReadOnlyList<InboxRow> rows, CancellationToken cancellationToken)
    {
        var people = await PeopleNames.LookupAsync(db, tenantId, rows.Select(r => r.Requester), cancellationToken);
        var workflows = await WorkflowNamesAsync(db, tenantId, rows.Select(r => r.WorkflowKey), cancellationToken);
        return [.. rows.Select(r => r with { RequesterName = people.Name(r.Requester), WorkflowName = workflows.GetValueOrDefault(r.WorkflowKey, r.WorkflowKey) })];
    }

    public async Task<IReadOnlyList<string>> WorkflowKeysAsync(Actor actor, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        return await db.Workflows.Where(w => w.TenantId == actor.TenantId).OrderBy(w => w.Key).Select(w => w.Key).ToListAsync(cancellationToken);
    }

    /// <summary>The tenant's workflows for the inbox's filter, by name.</summary>
    public async Task<IReadOnlyList<WorkflowChoice>> WorkflowChoicesAsync(Actor actor, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var workflows = await db.Workflows.AsNoTracking().Where(w => w.TenantId == actor.TenantId)
            .Select(w => new WorkflowChoice(w.Key, w.Name)).ToListAsync(cancellationToken);
        return [.. workflows.Select(w => string.IsNullOrWhiteSpace(w.Name) ? w with { Name = w.Key } : w)
            .OrderBy(w => w.Name, StringComparer.CurrentCultureIgnoreCase).ThenBy(w => w.Key, StringComparer.Ordinal)];
    }

    /// <summary>
    /// The keys of the tenant's workflows whose name holds <paramref name="text"/> (lower-cased): looked up once per search
    /// (a handful of rows), not once per task searched.
    /// </summary>
    private static Task<List<string>> WorkflowsNamedAsync(AppDbContext db, string tenantId, string text, CancellationToken cancellationToken) =>
        db.Workflows.AsNoTracking().Where(w => w.TenantId == tenantId && w.Name.ToLower().Contains(text))
            .Select(w => w.Key).Distinct().ToListAsync(cancellationToken);

    private static async Task<Dictionary<string, string>> WorkflowNamesAsync(AppDbContext db, string tenantId, IEnumerable<string> keys, CancellationToken cancellationToken)
    {
        var wanted = keys.Distinct(StringComparer.Ordinal).ToList();
        if (wanted.Count == 0)
        {
            return new Dictionary<string, string>(StringComparer.Ordinal);
        }

        var names = await db.Workflows.AsNoTracking().Where(w => w.TenantId == tenantId && wanted.Contains(w.Key))
            .Select(w => new { w.Key, w.Name }).ToListAsync(cancellationToken);
        return names.Where(n => !string.IsNullOrWhiteSpace(n.Name)).ToDictionary(n => n.Key, n => n.Name, StringComparer.Ordinal);
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
        // An approval with a quorum: its votes, each voter named as the directory names them (else as they voted), and the tally.
        var tally = Executions.Votes.Tally(task.TallyJson);
        List<TaskVoteRecord> votes = tally is null ? [] : await db.TaskVotes.AsNoTracking().Where(v => v.ResId == task.ResId).OrderBy(v => v.Id).ToListAsync(cancellationToken);
        var names = await PeopleNames.LookupAsync(db, task.TenantId,
            [execution.CreatedBy, task.ResolvedBy, .. votes.Select(v => v.UserId), .. tally?.WaitingFor ?? []], cancellationToken);
        foreach (var vote in votes)
        {
            vote.Name = names.TryGetValue(vote.UserId, out var name) && !string.IsNullOrWhiteSpace(name) ? name : vote.Name;
        }

        var answeredBy = task.ResolvedBy is null ? null
            : names.TryGetValue(task.ResolvedBy, out var known) && !string.IsNullOrWhiteSpace(known) ? known : task.ResolvedByName ?? task.ResolvedBy;
        return new TaskView(task, (WaitingNodeDefinition)definition.Node(task.NodeId), names.Name(execution.CreatedBy), JsonNode.Parse(execution.InputJson),
            [.. outputs.Select(o => new NodeOutput(o.NodeId, NodeTitles.Of(titles, o.NodeId), o.OutputJson is null ? null : JsonNode.Parse(o.OutputJson)))],
            execution.LastSequence, titles, answeredBy, string.IsNullOrWhiteSpace(definition.Name) ? task.WorkflowKey : definition.Name)
        {
            Votes = votes,
            Tally = tally is null ? null : tally with { WaitingFor = [.. tally.WaitingFor.Select(w => names.Name(w))] },
        };
    }

    /// <summary>The newest pending task the actor may answer, other than <paramref name="exceptResId"/> (null when there is none).</summary>
    public async Task<string?> NextTaskAsync(Actor actor, string exceptResId, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        return await db.Tasks.AsNoTracking().AnswerableBy(actor)
            .Where(t => t.Status == TaskStatuses.Pending && t.ResId != exceptResId)
            .OrderByDescending(t => t.CreatedAt).ThenByDescending(t => t.Made).ThenBy(t => t.ResId)
            .Select(t => t.ResId).FirstOrDefaultAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<ExecutionEventMessage>> EventsAsync(Actor actor, string executionId, long afterSequence, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var reader = scope.ServiceProvider.GetRequiredService<ExecutionEventReader>();
        return await reader.IsVisibleAsync(executionId, actor, cancellationToken)
            ? await reader.ReadAsync(executionId, afterSequence, cancellationToken)
            : [];
    }

    /// <summary>
    /// What the actor answered, newest first, a page at a time: searched in the title, the workflow (key or name) and the
    /// answer's comment, and bounded by when it was answered.
    /// </summary>
    public async Task<HistorySlice> HistoryAsync(Actor actor, HistoryFilter filter, int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        // What the person answered, and (issue 15) the votes they cast that did not settle their approval — each once, at the
        // time they answered or voted: one UNION ALL, filtered, counted and paged together.
        var answered = db.Tasks.AsNoTracking()
            .Where(t => t.TenantId == actor.TenantId && t.Status == TaskStatuses.Resolved && t.ResolvedBy == actor.UserId)
            .Select(t => new HistoryEntry
            {
                ResId = t.ResId, ExecutionId = t.ExecutionId, WorkflowKey = t.WorkflowKey, WorkflowVersion = t.WorkflowVersion, NodeId = t.NodeId,
                Kind = t.Kind, Title = t.Title, At = t.ResolvedAt, Channel = t.Channel, OutputJson = t.OutputJson, VoteDecision = null, VoteComment = null,
            });
        var voted = db.TaskVotes.AsNoTracking()
            .Where(v => v.UserId == actor.UserId)
            .Join(db.Tasks.Where(t => t.TenantId == actor.TenantId), v => v.ResId, t => t.ResId, (v, t) => new { v, t })
            .Where(x => !(x.t.Status == TaskStatuses.Resolved && x.t.ResolvedBy == actor.UserId))
            .Select(x => new HistoryEntry
            {
                ResId = x.t.ResId, ExecutionId = x.t.ExecutionId, WorkflowKey = x.t.WorkflowKey, WorkflowVersion = x.t.WorkflowVersion, NodeId = x.t.NodeId,
                Kind = x.t.Kind, Title = x.t.Title, At = x.v.At, Channel = x.v.Channel, OutputJson = null, VoteDecision = x.v.Decision,
                VoteComment = x.v.Comment,
            });
        var query = answered.Concat(voted);
        if (filter.From is { } from)
        {
            query = query.Where(t => t.At >= from);
        }

        if (filter.To is { } to)
        {
            query = query.Where(t => t.At < to);
        }

        if (!string.IsNullOrWhiteSpace(filter.Search))
        {
            var text = filter.Search.Trim().ToLowerInvariant();
            var comment = CommentPattern(text);
            var named = await WorkflowsNamedAsync(db, actor.TenantId, text, cancellationToken);
            query = query.Where(t => t.Title.ToLower().Contains(text) || t.WorkflowKey.ToLower().Contains(text) || named.Contains(t.WorkflowKey)
                || (t.OutputJson != null && EF.Functions.Like(t.OutputJson.ToLower(), comment, Like.EscapeCharacter))
                || (t.VoteComment != null && t.VoteComment.ToLower().Contains(text)));
        }

        var total = await query.CountAsync(cancellationToken);
        var rows = await query.OrderByDescending(t => t.At).ThenBy(t => t.ResId)
            .Skip(page * pageSize).Take(pageSize)
            .ToListAsync(cancellationToken);
        var workflows = await WorkflowNamesAsync(db, actor.TenantId, rows.Select(r => r.WorkflowKey), cancellationToken);

        // Form answers read by their fields' titles: the form as the task's version of the workflow defined it.
        var catalog = scope.ServiceProvider.GetRequiredService<WorkflowCatalog>();
        var definitions = new Dictionary<(string, int), WorkflowDefinition?>();
        foreach (var version in rows.Where(r => r.Kind == nameof(WaitKind.UserForm)).Select(r => (r.WorkflowKey, r.WorkflowVersion)).Distinct())
        {
            definitions[version] = await catalog.GetAsync(actor.TenantId, version.WorkflowKey, version.WorkflowVersion, cancellationToken);
        }

        return new HistorySlice([.. rows.Select(t =>
        {
            var response = t.VoteDecision is not null
                ? new JsonObject { ["decision"] = t.VoteDecision, ["comment"] = t.VoteComment }
                : t.OutputJson is null ? null : JsonNode.Parse(t.OutputJson);
            var node = definitions.GetValueOrDefault((t.WorkflowKey, t.WorkflowVersion))?.Nodes.GetValueOrDefault(t.NodeId);
            var answer = PlainWords.Answer(t.Kind, response, node);
            return new HistoryRow(t.ResId, t.ExecutionId, t.WorkflowKey, t.Kind, t.Title, t.At, t.Channel, response)
            {
                WorkflowName = workflows.GetValueOrDefault(t.WorkflowKey, t.WorkflowKey),
                Answer = t.VoteDecision is null ? answer : $"Voted {answer}",
            };
        })], total);
    }

    /// <summary>One row of a person's history before it is shaped: an answer of theirs, or a vote that did not settle its task.</summary>
    private sealed class HistoryEntry
    {
        public required string ResId { get; init; }
        public required string ExecutionId { get; init; }
        public required string WorkflowKey { get; init; }
        public int WorkflowVersion { get; init; }
        public required string NodeId { get; init; }
        public required string Kind { get; init; }
        public required string Title { get; init; }
        public DateTime? At { get; init; }
        public string? Channel { get; init; }
        public string? OutputJson { get; init; }
        public string? VoteDecision { get; init; }
        public string? VoteComment { get; init; }
    }

    /// <summary>
    /// A LIKE pattern for <paramref name="text"/> inside the comment of a stored answer. Approvals and reviews are stored
    /// as <c>{"decision"|"acknowledged", "comment", "actor", "at"}</c> (ResponseValidator), so the comment's text lies between
    /// <c>"comment":"</c> and <c>","actor":</c>; the text is encoded as System.Text.Json wrote the answer (non-ASCII as \uXXXX),
    /// lower-cased like the column, and LIKE's own characters are escaped.
    /// </summary>
    internal static string CommentPattern(string text)
    {
        var json = System.Text.Json.JsonSerializer.Serialize(text)[1..^1].ToLowerInvariant();
        return "%\"comment\":\"%" + Like.Escape(json) + "%\",\"actor\":%";
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
        var tasks = await db.Tasks.AsNoTracking().Where(t => t.ExecutionId == executionId)
            .Select(t => new { t.ResId, t.NodeId, t.StackKey, t.Title, t.CreatedAt }).ToListAsync(cancellationToken);
        var definition = await scope.ServiceProvider.GetRequiredService<WorkflowCatalog>()
            .GetAsync(execution.TenantId, execution.WorkflowKey, execution.WorkflowVersion, cancellationToken);
        var recipients = await db.Notifications.AsNoTracking().Where(n => n.ExecutionId == executionId && n.RecipientUserId != null)
            .Select(n => n.RecipientUserId).Distinct().ToListAsync(cancellationToken);
        var people = await PeopleNames.LookupAsync(db, execution.TenantId, [execution.CreatedBy, .. recipients], cancellationToken);

        var nodeTitles = NodeTitles.For(definition, []);

        // A node run that opened a task is called by the task's title as it was rendered for that run: the task of the
        // same node and iteration made when the node run began (the same instant), else the latest one made before it.
        var runTitles = new Dictionary<long, string>();
        foreach (var run in nodes)
        {
            var candidates = tasks.Where(t => t.NodeId == run.NodeId && t.StackKey == run.StackKey).ToList();
            var task = candidates.FirstOrDefault(t => t.CreatedAt == run.StartedAt)
                ?? candidates.Where(t => t.CreatedAt <= run.StartedAt).MaxBy(t => t.CreatedAt)
                ?? candidates.MinBy(t => t.CreatedAt);
            runTitles[run.Id] = task?.Title is { Length: > 0 } rendered ? rendered : nodeTitles.GetValueOrDefault(run.NodeId, PlainWords.Humanize(run.NodeId));
        }

        return new ExecutionView(execution, nodes)
        {
            WorkflowName = string.IsNullOrWhiteSpace(definition.Name) ? execution.WorkflowKey : definition.Name,
            StartedByName = people.Name(execution.CreatedBy),
            RunTitles = runTitles,
            NodeTitles = nodeTitles,
            TaskTitles = tasks.ToDictionary(t => t.ResId, t => t.Title, StringComparer.Ordinal),
            People = people,
        };
    }
}
