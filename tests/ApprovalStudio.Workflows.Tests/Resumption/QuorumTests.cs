using ApprovalStudio.Workflows.Definitions;
using ApprovalStudio.Workflows.Resumption;
using CsCheck;

namespace ApprovalStudio.Workflows.Tests.Resumption;

/// <summary>
/// The voting policy of approval nodes (issue 15): what settles a node, for each kind of quorum, how the parser reads it, and
/// a property over random policies and vote sequences checked against a brute-force reading of the rules.
/// </summary>
public sealed class QuorumTests
{
    private static QuorumPolicy? Policy(string quorum, string assignees = """{"users":["ann","bob","cy"],"groups":["finance","legal"]}""")
    {
        var definition = DefinitionParser.ParseOrThrow($$"""
            {"key":"k","start":"a","nodes":[{"id":"a","type":"approval","assignees":{{assignees}},"quorum":{{quorum}}}],"edges":[]}
            """);
        return ((ApprovalNode)definition.Node("a")).Quorum;
    }

    private static IReadOnlyList<DefinitionProblem> Problems(string quorum, string assignees = """{"users":["ann","bob"],"groups":["finance","legal"]}""") =>
        DefinitionParser.Parse(System.Text.Json.Nodes.JsonNode.Parse($$"""
            {"key":"k","start":"a","nodes":[{"id":"a","type":"approval","assignees":{{assignees}},"quorum":{{quorum}}}],"edges":[]}
            """)).Problems;

    private static Vote V(string user, string decision, params string[] groups) => new(new Voter(user, groups), decision);

    private const string A = ApprovalDecisions.Approved;
    private const string R = ApprovalDecisions.Rejected;

    [Fact]
    public void First_or_no_quorum_is_no_policy_the_first_answer_settles_the_node()
    {
        Assert.Null(Policy("""{"approvals":"first"}"""));
        Assert.Null(Policy("""{}"""));
        Assert.Null(Policy("""{"approvals":1,"rejectOn":"any"}"""));
        Assert.NotNull(Policy("""{"approvals":1,"rejectOn":"unreachable"}"""));
    }

    [Fact]
    public void All_waits_for_every_named_user_and_a_rejection_ends_it()
    {
        var policy = Policy("""{"approvals":"all"}""", """{"users":["ann","bob","cy"]}""")!;
        Assert.Equal(3, policy.Required);

        var open = policy.Evaluate([V("ann", A), V("bob", A)], []);
        Assert.Null(open.Decision);
        Assert.Equal("2 of 3 approvals; waiting for cy", open.Tally.Describe());

        var done = policy.Evaluate([V("ann", A), V("bob", A), V("cy", A)], []);
        Assert.Equal(A, done.Decision);
        Assert.Equal("cy", done.Deciding!.Voter.UserId);

        var rejected = policy.Evaluate([V("ann", A), V("bob", R)], []);
        Assert.Equal(R, rejected.Decision);
        Assert.Equal("bob", rejected.Deciding!.Voter.UserId);
    }

    [Fact]
    public void An_admin_approving_does_not_stand_in_for_a_named_user_of_all()
    {
        var policy = Policy("""{"approvals":"all"}""", """{"users":["ann","bob"]}""")!;

        Assert.Null(policy.Evaluate([V("ann", A), V("root", A)], []).Decision);
    }

    [Fact]
    public void At_least_n_counts_people_not_votes()
    {
        var policy = Policy("""{"approvals":2}""")!;

        Assert.Null(policy.Evaluate([V("ann", A), V("ann", A)], []).Decision);
        Assert.Equal(A, policy.Evaluate([V("ann", A), V("bob", A)], []).Decision);
    }

    [Fact]
    public void Each_group_needs_a_member_of_its_own_and_one_person_signs_off_for_one_group()
    {
        var policy = Policy("""{"groups":["finance","legal"]}""")!;
        Assert.Equal(2, policy.Required);

        var both = policy.Evaluate([V("ann", A, "finance", "legal")], []);
        Assert.Null(both.Decision);
        Assert.Equal("1 of 2 approvals; waiting for legal", both.Tally.Describe());

        var twoFinance = policy.Evaluate([V("ann", A, "finance", "legal"), V("bob", A, "finance")], []);
        Assert.Equal(A, twoFinance.Decision); // ann moves to legal, bob signs for finance

        var sameGroup = policy.Evaluate([V("bob", A, "finance"), V("cy", A, "finance")], []);
        Assert.Null(sameGroup.Decision);
        Assert.Equal(["legal"], sameGroup.Tally.WaitingFor);
        Assert.Equal("2 approvals; waiting for legal", sameGroup.Tally.Describe()); // not "2 of 2": the count is met, the group is not
    }

    [Fact]
    public void Unreachable_rejects_only_once_the_people_left_cannot_make_the_approvals()
    {
        var policy = Policy("""{"approvals":2,"rejectOn":"unreachable"}""", """{"users":["ann","bob","cy"]}""")!;
        Voter[] electorate = [new("ann", []), new("bob", []), new("cy", [])];
        Voter[] Left(params string[] voted) => [.. electorate.Where(v => !voted.Contains(v.UserId))];

        Assert.Null(policy.Evaluate([V("ann", R)], Left("ann")).Decision);
        var rejected = policy.Evaluate([V("ann", R), V("bob", R)], Left("ann", "bob"));
        Assert.Equal(R, rejected.Decision);
        Assert.Equal("bob", rejected.Deciding!.Voter.UserId);
        Assert.Equal(A, policy.Evaluate([V("ann", R), V("bob", A), V("cy", A)], []).Decision);
    }

    [Fact]
    public void Request_changes_settles_the_node_at_once()
    {
        var policy = Policy("""{"approvals":"all"}""", """{"users":["ann","bob"]}""")!;

        var result = policy.Evaluate([V("ann", A), V("bob", ApprovalDecisions.RequestChanges)], []);

        Assert.Equal(ApprovalDecisions.RequestChanges, result.Decision);
        Assert.Equal("bob", result.Deciding!.Voter.UserId);
    }

    [Fact]
    public void The_requester_is_not_waited_for_when_they_may_not_approve()
    {
        var policy = Policy("""{"approvals":"all"}""", """{"users":["ann","bob","cy"]}""")!;

        var forAnn = policy.ForRequester("ann", allowRequester: false);
        Assert.Equal(2, forAnn.Required);
        Assert.Equal(A, forAnn.Evaluate([V("bob", A), V("cy", A)], []).Decision);
        Assert.Same(policy, policy.ForRequester("ann", allowRequester: true));
        Assert.Same(policy, policy.ForRequester("zed", allowRequester: false));
    }

    [Theory]
    [InlineData("""{"approvals":"some"}""", "approvals")]
    [InlineData("""{"approvals":0}""", "approvals")]
    [InlineData("""{"approvals":3}""", "approvals")]
    [InlineData("""{"approvals":"all"}""", "approvals")]
    [InlineData("""{"groups":"finance"}""", "groups")]
    [InlineData("""{"groups":["finance","finance"]}""", "groups")]
    [InlineData("""{"groups":["hr"]}""", "groups")]
    [InlineData("""{"rejectOn":"majority"}""", "rejectOn")]
    [InlineData("""{"approval":2}""", "approval")]
    [InlineData("""{"approvals":1,"groups":["finance","legal"]}""", "approvals")]
    [InlineData("""[2]""", "quorum")]
    public void A_quorum_that_cannot_work_is_refused_naming_its_field(string quorum, string field)
    {
        var assignees = field == "approvals" && !quorum.Contains("groups", StringComparison.Ordinal)
            ? """{"users":["ann","bob"],"groups":[]}"""
            : """{"users":["ann","bob"],"groups":["finance","legal"]}""";
        if (quorum.Contains("\"all\"", StringComparison.Ordinal))
        {
            assignees = """{"users":["ann"],"groups":["finance"]}""";
        }

        var problems = Problems(quorum, assignees);

        var problem = Assert.Single(problems);
        Assert.Equal(field == "quorum" ? "nodes[0].quorum" : $"nodes[0].quorum.{field}", problem.Path);
    }

    // ---- the property: random policies, random vote sequences, checked against the rules read the slow way ----

    private static readonly string[] People = ["ann", "bob", "cy", "dee", "eve"];
    private static readonly string[] GroupNames = ["finance", "legal", "ops"];

    private static readonly Gen<QuorumPolicy> Policies =
        from kind in Gen.Int[0, 2]
        from n in Gen.Int[1, 4]
        from allOf in Gen.OneOf(People).ArrayUnique[1, 4]
        from groups in Gen.OneOf(GroupNames).ArrayUnique[0, 3]
        from unreachable in Gen.Bool
        select new QuorumPolicy(
            kind == 0 ? Math.Max(allOf.Length, groups.Length) : Math.Max(n, groups.Length),
            kind == 0 ? allOf : [],
            groups,
            unreachable ? RejectOn.Unreachable : RejectOn.Any);

    private static readonly Gen<Voter> Voters =
        from user in Gen.OneOf(People)
        from groups in Gen.OneOf(GroupNames).ArrayUnique[0, 2]
        select new Voter(user, groups);

    private static readonly Gen<Vote> Votes =
        from voter in Voters
        from decision in Gen.Frequency((6, Gen.Const(A)), (3, Gen.Const(R)), (1, Gen.Const(ApprovalDecisions.RequestChanges)))
        select new Vote(voter, decision);

    [Fact]
    public void Random_votes_settle_a_node_at_most_once_and_only_as_its_policy_says()
    {
        Gen.Select(Policies, Votes.Array[0, 12]).Sample((policy, stream) =>
        {
            // The node as the pipeline runs it: it takes each person's first vote until settled, then none.
            var taken = new List<Vote>();
            var settled = 0;
            QuorumResult? result = null;
            foreach (var vote in stream)
            {
                if (result?.Decision is not null || taken.Any(v => v.Voter.UserId == vote.Voter.UserId))
                {
                    continue;
                }

                taken.Add(vote);
                // Everyone assigned who has not voted, each with the groups they are in (the people of the stream).
                var electorate = People.Where(p => taken.All(v => v.Voter.UserId != p))
                    .Select(p => stream.FirstOrDefault(v => v.Voter.UserId == p)?.Voter ?? new Voter(p, [])).ToList();
                result = policy.Evaluate(taken, electorate);
                if (result.Decision is not null)
                {
                    settled++;
                    Holds(policy, taken, electorate, result);
                }
                else
                {
                    HoldsOpen(policy, taken, electorate, result);
                }
            }

            Assert.True(settled <= 1);
        }, iter: 5000);
    }

    private static void Holds(QuorumPolicy policy, List<Vote> taken, List<Voter> electorate, QuorumResult result)
    {
        var last = taken[^1];
        Assert.Same(last, result.Deciding); // the vote that settles it is the one just cast
        var approvers = taken.Where(v => v.Decision == A).Select(v => v.Voter).ToList();
        switch (result.Decision)
        {
            case A:
                Assert.Equal(A, last.Decision);
                Assert.True(SlowMet(policy, approvers));
                Assert.False(SlowMet(policy, approvers[..^1])); // not met before this vote
                break;
            case R:
                Assert.Equal(R, last.Decision);
                Assert.False(SlowMet(policy, approvers));
                if (policy.RejectOn == RejectOn.Unreachable)
                {
                    Assert.False(SlowMet(policy, [.. approvers, .. electorate, .. policy.AllOf.Where(u => taken.All(v => v.Voter.UserId != u)).Select(u => new Voter(u, []))]));
                }
                else
                {
                    Assert.Equal(1, taken.Count(v => v.Decision == R)); // the first rejection ends it
                }

                break;
            default:
                Assert.Equal(ApprovalDecisions.RequestChanges, last.Decision);
                break;
        }

        Assert.Equal(approvers.Count, result.Tally.Approvals);
        Assert.Equal(taken.Count(v => v.Decision == R), result.Tally.Rejections);
    }

    private static void HoldsOpen(QuorumPolicy policy, List<Vote> taken, List<Voter> electorate, QuorumResult result)
    {
        var approvers = taken.Where(v => v.Decision == A).Select(v => v.Voter).ToList();
        Assert.False(SlowMet(policy, approvers));
        Assert.DoesNotContain(taken, v => v.Decision == ApprovalDecisions.RequestChanges);
        if (taken.Any(v => v.Decision == R))
        {
            Assert.Equal(RejectOn.Unreachable, policy.RejectOn);
            Assert.True(SlowMet(policy, [.. approvers, .. electorate, .. policy.AllOf.Where(u => taken.All(v => v.Voter.UserId != u)).Select(u => new Voter(u, []))]));
        }

        Assert.Equal(policy.Required, result.Tally.Required);
    }

    /// <summary>The policy read the slow way: enough people, every named one, and some one-to-one choice of a member for each group.</summary>
    private static bool SlowMet(QuorumPolicy policy, IReadOnlyList<Voter> approvers)
    {
        var people = approvers.GroupBy(a => a.UserId).Select(g => g.First()).ToList();
        return people.Count >= policy.Required
            && policy.AllOf.All(u => people.Any(p => p.UserId == u))
            && Cover(policy.Groups, 0, people, []);

        static bool Cover(IReadOnlyList<string> groups, int i, List<Voter> people, HashSet<string> used) =>
            i == groups.Count || people.Any(p => !used.Contains(p.UserId) && p.Groups.Contains(groups[i])
                && Cover(groups, i + 1, people, [.. used, p.UserId]));
    }
}
