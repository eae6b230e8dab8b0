using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Workflows.Resumption;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>
/// The records of voting approvals (issue 15) the runtime and every channel share: the tally as stored and sent, the
/// <c>voted</c> event, and the votes as the node's output lists them.
/// </summary>
public static class Votes
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    /// <summary>The status of a 202 whose vote did not settle its approval: the run still waits.</summary>
    public const string Voting = "Voting";

    /// <summary>The audit action of a vote that did not settle its approval (the one that does is <c>Resumed</c>).</summary>
    public const string VotedAction = "Voted";

    /// <summary><c>{"approvals", "rejections", "required", "waitingFor"}</c>.</summary>
    public static string TallyJson(QuorumTally tally) => JsonSerializer.Serialize(tally, JsonOptions);

    /// <summary>The tally as the API's bodies carry it.</summary>
    public static JsonNode? TallyNode(QuorumTally tally) => JsonSerializer.SerializeToNode(tally, JsonOptions);

    public static QuorumTally? Tally(string? json) => json is null ? null : JsonSerializer.Deserialize<QuorumTally>(json, JsonOptions);

    /// <summary>"2 of 3 approvals; waiting for legal", from the stored tally.</summary>
    public static string? Describe(string? tallyJson) => Tally(tallyJson)?.Describe();

    /// <summary>The votes as the node's output and the pages list them: <c>{userId, name, decision, comment, channel, at}</c>.</summary>
    public static JsonArray AsJson(IEnumerable<TaskVoteRecord> votes) =>
    [
        .. votes.Select(v => new JsonObject
        {
            ["userId"] = v.UserId, ["name"] = v.Name, ["decision"] = v.Decision, ["comment"] = v.Comment, ["channel"] = v.Channel, ["at"] = new DateTimeOffset(DateTime.SpecifyKind(v.At, DateTimeKind.Utc)),
        }),
    ];

    public static Voter Voter(TaskVoteRecord vote) =>
        new(vote.UserId, vote.Groups.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>
    /// The <c>voted</c> event of a vote that did not settle its approval, numbered <paramref name="sequence"/> in the vote's own
    /// transaction (as a <c>resumed</c> event is): who voted what, through which channel, and the tally after it.
    /// </summary>
    public static ExecutionEventRecord VotedEvent(TaskRecord task, long sequence, TaskVoteRecord vote, QuorumTally tally) => new()
    {
        ExecutionId = task.ExecutionId,
        Sequence = sequence,
        TenantId = task.TenantId,
        Type = ExecutionEventTypes.Voted,
        NodeId = task.NodeId,
        Status = nameof(ApprovalStudio.Workflows.Execution.NodeRunStatus.Waiting), // a node event, with the node's status: still waiting
        At = vote.At,
        DataJson = new JsonObject
        {
            ["resId"] = task.ResId, ["actor"] = vote.UserId, ["actorName"] = vote.Name, ["decision"] = vote.Decision, ["channel"] = vote.Channel,
            ["tally"] = TallyNode(tally), ["stack"] = JsonNode.Parse(task.StackJson),
        }.ToJsonString(),
    };
}
