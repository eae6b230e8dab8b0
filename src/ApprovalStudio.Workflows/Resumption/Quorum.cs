using System.Text.Json.Nodes;
using ApprovalStudio.Workflows.Definitions;

namespace ApprovalStudio.Workflows.Resumption;

/// <summary>When rejections end a voting approval node (<c>quorum.rejectOn</c>).</summary>
public enum RejectOn
{
    /// <summary>The first rejection ends the node as Rejected (the default).</summary>
    Any,

    /// <summary>Rejections end the node only once the approvals it needs can no longer be had from the people left to vote.</summary>
    Unreachable,
}

/// <summary>
/// An approval node's voting policy (<c>"quorum": {"approvals": "first" | "all" | N, "groups": [...], "rejectOn": ...}</c>, issue 15).
/// The node is approved once <see cref="Required"/> different people approved it, every user of <see cref="AllOf"/> among
/// them, and each of <see cref="Groups"/> signed off by a member of its own (one person signs off for one group: two groups
/// need two people). A node without a quorum (or <c>"approvals": "first"</c> alone) is settled by its first answer.
/// </summary>
public sealed record QuorumPolicy(int Required, IReadOnlyList<string> AllOf, IReadOnlyList<string> Groups, RejectOn RejectOn)
{
    /// <summary>
    /// Where the votes leave the node. <paramref name="electorate"/>: everyone who may still vote and has not (with their
    /// groups), for <see cref="RejectOn.Unreachable"/>; the policy's own <see cref="AllOf"/> users are always part of it.
    /// </summary>
    public QuorumResult Evaluate(IReadOnlyList<Vote> votes, IReadOnlyList<Voter> electorate)
    {
        var counted = Counted(votes);
        var approvers = counted.Where(v => v.Decision == ApprovalDecisions.Approved).Select(v => v.Voter).ToList();
        var rejections = counted.Count(v => v.Decision == ApprovalDecisions.Rejected);
        var tally = Tally(approvers, rejections);
        if (counted.FirstOrDefault(v => v.Decision == ApprovalDecisions.RequestChanges) is { } changes)
        {
            return new QuorumResult(ApprovalDecisions.RequestChanges, tally, changes);
        }

        if (Met(approvers))
        {
            return new QuorumResult(ApprovalDecisions.Approved, tally, counted[^1]);
        }

        if (rejections > 0 && (RejectOn == RejectOn.Any || !Reachable(approvers, counted, electorate)))
        {
            return new QuorumResult(ApprovalDecisions.Rejected, tally, counted.Last(v => v.Decision == ApprovalDecisions.Rejected));
        }

        return new QuorumResult(null, tally, null);
    }

    /// <summary>The tally before any vote.</summary>
    public QuorumTally Empty => Tally([], 0);

    /// <summary>
    /// The policy for one run: the person who started it is not among the users <c>"all"</c> waits for when they may not
    /// approve it (<c>allowRequester</c> off), or the node could never be approved.
    /// </summary>
    public QuorumPolicy ForRequester(string? requestedBy, bool allowRequester) =>
        allowRequester || requestedBy is null || !AllOf.Contains(requestedBy, StringComparer.Ordinal)
            ? this
            : this with
            {
                AllOf = [.. AllOf.Where(u => u != requestedBy)],
                Required = Math.Max(1, Math.Max(AllOf.Count - 1, Groups.Count)),
            };

    /// <summary>Each person's first vote, in order: a second one never counts (the pipeline refuses it; this holds anyway).</summary>
    private static List<Vote> Counted(IReadOnlyList<Vote> votes)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return [.. votes.Where(v => seen.Add(v.Voter.UserId))];
    }

    private QuorumTally Tally(IReadOnlyList<Voter> approvers, int rejections)
    {
        var waitingFor = new List<string>();
        waitingFor.AddRange(AllOf.Where(u => !approvers.Any(a => a.UserId == u)));
        waitingFor.AddRange(UncoveredGroups(approvers));
        return new QuorumTally(approvers.Count, rejections, Required, waitingFor);
    }

    private bool Met(IReadOnlyList<Voter> approvers) =>
        approvers.Count >= Required && AllOf.All(u => approvers.Any(a => a.UserId == u)) && UncoveredGroups(approvers).Count == 0;

    /// <summary>Whether the approvals could still be had if everyone left to vote approved.</summary>
    private bool Reachable(IReadOnlyList<Voter> approvers, IReadOnlyList<Vote> counted, IReadOnlyList<Voter> electorate)
    {
        var voted = counted.Select(v => v.Voter.UserId).ToHashSet(StringComparer.Ordinal);
        var possible = approvers.ToList();
        foreach (var voter in electorate.Concat(AllOf.Select(u => new Voter(u, []))))
        {
            if (voted.Add(voter.UserId))
            {
                possible.Add(voter);
            }
        }

        return Met(possible);
    }

    /// <summary>
    /// The groups no approver can sign off for, with each approver signing off for one group at most: what a maximum
    /// matching of groups to their approving members leaves out (Kuhn's augmenting paths; a node names a few groups).
    /// </summary>
    private List<string> UncoveredGroups(IReadOnlyList<Voter> approvers)
    {
        if (Groups.Count == 0)
        {
            return [];
        }

        var holder = new Dictionary<string, string>(StringComparer.Ordinal); // approver → group they sign off for
        var uncovered = new List<string>();
        foreach (var group in Groups)
        {
            if (!Assign(group, new HashSet<string>(StringComparer.Ordinal)))
            {
                uncovered.Add(group);
            }
        }

        return uncovered;

        bool Assign(string group, HashSet<string> visited)
        {
            foreach (var approver in approvers.Where(a => a.Groups.Contains(group, StringComparer.Ordinal)))
            {
                if (!visited.Add(approver.UserId))
                {
                    continue;
                }

                if (!holder.TryGetValue(approver.UserId, out var held) || Assign(held, visited))
                {
                    holder[approver.UserId] = group;
                    return true;
                }
            }

            return false;
        }
    }
}

/// <summary>Someone who votes, with the groups they belonged to when they voted.</summary>
public sealed record Voter(string UserId, IReadOnlyList<string> Groups);

/// <summary>One vote on a voting approval node.</summary>
public sealed record Vote(Voter Voter, string Decision);

/// <summary>
/// Where a voting node stands: <paramref name="Approvals"/> of <paramref name="Required"/>, and what it still waits for by
/// name (<paramref name="WaitingFor"/>: users of <c>"all"</c> who have not approved, then groups nobody signed off for).
/// </summary>
public sealed record QuorumTally(int Approvals, int Rejections, int Required, IReadOnlyList<string> WaitingFor)
{
    /// <summary>
    /// "2 of 3 approvals; waiting for legal": what every channel shows while the vote is open. Once there are approvals enough
    /// but a group has not signed off, the count stands alone ("2 approvals; waiting for legal"), never "3 of 2".
    /// </summary>
    public string Describe()
    {
        var text = Approvals >= Required
            ? $"{Approvals} approval{(Approvals == 1 ? string.Empty : "s")}"
            : $"{Approvals} of {Required} approval{(Required == 1 ? string.Empty : "s")}";
        if (Rejections > 0)
        {
            text += $", {Rejections} rejection{(Rejections == 1 ? string.Empty : "s")}";
        }

        return WaitingFor.Count > 0 ? $"{text}; waiting for {string.Join(", ", WaitingFor)}" : text;
    }
}

/// <summary>
/// <paramref name="Decision"/>: null while the vote is open; else how the node ends, settled by <paramref name="Deciding"/>.
/// </summary>
public sealed record QuorumResult(string? Decision, QuorumTally Tally, Vote? Deciding);

/// <summary>Reads <c>quorum</c> of an approval node.</summary>
public static class QuorumParser
{
    /// <returns>Null when the node is settled by its first answer (no quorum, or one that says just that).</returns>
    public static QuorumPolicy? Parse(JsonNode? node, Assignees assignees, string path, List<DefinitionProblem> problems)
    {
        if (node is null)
        {
            return null;
        }

        if (node is not JsonObject quorum)
        {
            problems.Add(new(path, "quorum is an object: {\"approvals\": \"first\" | \"all\" | N, \"groups\": [...], \"rejectOn\": \"any\" | \"unreachable\"}."));
            return null;
        }

        var before = problems.Count;
        foreach (var (name, _) in quorum)
        {
            if (name is not ("approvals" or "groups" or "rejectOn"))
            {
                problems.Add(new($"{path}.{name}", $"Unknown quorum field '{name}'. Known: approvals, groups, rejectOn."));
            }
        }

        var required = 1;
        IReadOnlyList<string> allOf = [];
        switch (quorum["approvals"])
        {
            case null:
                break;
            case JsonValue v when v.TryGetValue<string>(out var word) && word == "first":
                break;
            case JsonValue v when v.TryGetValue<string>(out var word) && word == "all":
                if (assignees.Users.Count == 0 || assignees.Groups.Count > 0)
                {
                    problems.Add(new($"{path}.approvals",
                        "\"all\" means every user named in assignees.users, so the node must name its users and no groups; a node assigned to groups says how many approvals it needs (a number) or which groups must sign off (groups)."));
                }

                allOf = [.. assignees.Users.Distinct(StringComparer.Ordinal)];
                required = allOf.Count;
                break;
            case JsonValue v when v.TryGetValue<int>(out var n) && n >= 1 && n <= 1000:
                required = n;
                if (assignees.Groups.Count == 0 && assignees.Users.Count > 0 && n > assignees.Users.Distinct(StringComparer.Ordinal).Count())
                {
                    problems.Add(new($"{path}.approvals", $"The node names {assignees.Users.Count} user(s) and no groups, so {n} approvals can never be had."));
                }

                break;
            default:
                problems.Add(new($"{path}.approvals", "approvals is \"first\", \"all\" or a whole number from 1 to 1000."));
                break;
        }

        var groups = new List<string>();
        switch (quorum["groups"])
        {
            case null:
                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    if (item is JsonValue g && g.TryGetValue<string>(out var group) && !string.IsNullOrWhiteSpace(group))
                    {
                        if (groups.Contains(group, StringComparer.Ordinal))
                        {
                            problems.Add(new($"{path}.groups", $"Group '{group}' is listed twice."));
                        }
                        else if (!assignees.Groups.Contains(group, StringComparer.Ordinal))
                        {
                            problems.Add(new($"{path}.groups", $"Group '{group}' must sign off but is not assigned: add it to assignees.groups, or its members cannot answer."));
                        }

                        groups.Add(group);
                    }
                    else
                    {
                        problems.Add(new($"{path}.groups", "groups is an array of group names."));
                        break;
                    }
                }

                break;
            default:
                problems.Add(new($"{path}.groups", "groups is an array of group names."));
                break;
        }

        var rejectOn = RejectOn.Any;
        switch (quorum["rejectOn"])
        {
            case null:
                break;
            case JsonValue v when v.TryGetValue<string>(out var word) && word is "any" or "unreachable":
                rejectOn = word == "any" ? RejectOn.Any : RejectOn.Unreachable;
                break;
            default:
                problems.Add(new($"{path}.rejectOn", "rejectOn is \"any\" (the first rejection ends the node) or \"unreachable\" (only once the approvals needed can no longer be had)."));
                break;
        }

        if (quorum["approvals"] is JsonValue given && given.TryGetValue<int>(out var asked) && asked < groups.Count)
        {
            problems.Add(new($"{path}.approvals",
                $"{asked} approval(s) cannot cover {groups.Count} groups: each group signs off through a person of its own. Ask for at least {groups.Count}, or leave approvals out."));
        }

        if (problems.Count > before)
        {
            return null;
        }

        required = Math.Max(required, groups.Count);
        return required == 1 && allOf.Count == 0 && groups.Count == 0 && rejectOn == RejectOn.Any
            ? null
            : new QuorumPolicy(required, allOf, groups, rejectOn);
    }
}
