using System.Text.Json.Nodes;

namespace ApprovalStudio.Workflows.Definitions;

/// <summary>A parsed, validated workflow definition (CONTRACT §3).</summary>
public sealed record WorkflowDefinition(
    string Key,
    string Name,
    string Start,
    IReadOnlyDictionary<string, NodeDefinition> Nodes,
    IReadOnlyList<EdgeDefinition> Edges)
{
    private readonly Dictionary<string, EdgeDefinition[]> _outgoing = Edges
        .GroupBy(e => e.From, StringComparer.Ordinal)
        .ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);

    public IReadOnlyList<EdgeDefinition> Outgoing(string nodeId) =>
        _outgoing.TryGetValue(nodeId, out var edges) ? edges : [];

    public NodeDefinition Node(string nodeId) => Nodes[nodeId];

    /// <summary>The forEach nodes enclosing <paramref name="nodeId"/>, outermost first.</summary>
    public IReadOnlyList<string> EnclosingLoops(string nodeId)
    {
        var chain = new List<string>();
        for (var owner = Owners.GetValueOrDefault(nodeId); owner is not null; owner = Owners.GetValueOrDefault(owner))
        {
            chain.Insert(0, owner);
        }

        return chain;
    }

    /// <summary>Nobody may answer two approval steps of one run (<c>"distinctApprovers": true</c>; off by default).</summary>
    public bool DistinctApprovers { get; init; }

    /// <summary>nodeId → the forEach whose body owns it (absent for top-level nodes).</summary>
    public IReadOnlyDictionary<string, string> Owners { get; init; } = new Dictionary<string, string>();
}

public sealed record EdgeDefinition(string From, string To, string? When);

public sealed record Assignees(IReadOnlyList<string> Users, IReadOnlyList<string> Groups)
{
    public static readonly Assignees None = new([], []);
}

/// <summary>What a waiting node does when its deadline passes.</summary>
public enum ExpiryAction
{
    /// <summary>Fail the run (the default).</summary>
    Fail,

    /// <summary>Complete the node with <c>{"expired": true}</c> and follow its edges.</summary>
    Continue,
}

public abstract record NodeDefinition(string Id, string Type, JsonObject Raw);

/// <summary>A node where the run stops until someone (or something) resumes it.</summary>
public abstract record WaitingNodeDefinition(string Id, string Type, JsonObject Raw, WaitKind Kind)
    : NodeDefinition(Id, Type, Raw);

/// <summary>A node a person answers: approval, form or review.</summary>
public abstract record HumanNodeDefinition(
    string Id, string Type, JsonObject Raw, WaitKind Kind,
    string Title, Assignees Assignees, TimeSpan? ExpiresAfter, ExpiryAction OnExpire)
    : WaitingNodeDefinition(Id, Type, Raw, Kind);

/// <param name="AllowRequester">
/// Whether the person who started the run may approve it. False by default (separation of duties): their answer is refused.
/// </param>
public sealed record ApprovalNode(
    string Id, JsonObject Raw, string Title, Assignees Assignees, TimeSpan? ExpiresAfter, ExpiryAction OnExpire,
    bool RequireCommentOnReject, bool AllowRequester = false)
    : HumanNodeDefinition(Id, NodeTypes.Approval, Raw, WaitKind.Approval, Title, Assignees, ExpiresAfter, OnExpire)
{
    /// <summary>
    /// Whether the node takes <c>RequestChanges</c>: one of its edges routes it (its <c>when</c> names the decision). A node
    /// with nowhere to send it back refuses it, rather than let the run go on as if it were approved or ended.
    /// </summary>
    public bool TakesRequestChanges { get; init; }

    /// <summary>How many approvals settle the node, and from whom (<c>quorum</c>); null: its first answer settles it.</summary>
    public Resumption.QuorumPolicy? Quorum { get; init; }
}

public sealed record FormNode(
    string Id, JsonObject Raw, string Title, Assignees Assignees, TimeSpan? ExpiresAfter, ExpiryAction OnExpire,
    JsonObject Schema)
    : HumanNodeDefinition(Id, NodeTypes.Form, Raw, WaitKind.UserForm, Title, Assignees, ExpiresAfter, OnExpire);

public sealed record ReviewNode(
    string Id, JsonObject Raw, string Title, Assignees Assignees, TimeSpan? ExpiresAfter, ExpiryAction OnExpire)
    : HumanNodeDefinition(Id, NodeTypes.Review, Raw, WaitKind.Review, Title, Assignees, ExpiresAfter, OnExpire);

public sealed record WaitNode(string Id, JsonObject Raw, string Title)
    : WaitingNodeDefinition(Id, NodeTypes.Wait, Raw, WaitKind.Wait);

public sealed record ToolCallNode(string Id, JsonObject Raw, string Title, IReadOnlyList<ToolDefinition> Tools)
    : WaitingNodeDefinition(Id, NodeTypes.ToolCall, Raw, WaitKind.ToolCall);

public sealed record ToolDefinition(string Name, JsonNode? Arguments);

public sealed record ForEachNode(string Id, JsonObject Raw, string Items, string Body)
    : NodeDefinition(Id, NodeTypes.ForEach, Raw);

public sealed record SetNode(string Id, JsonObject Raw, IReadOnlyDictionary<string, string> Values)
    : NodeDefinition(Id, NodeTypes.Set, Raw);

public sealed record HttpNode(
    string Id, JsonObject Raw, string Method, string Url, IReadOnlyDictionary<string, string> Headers, JsonNode? Body)
    : NodeDefinition(Id, NodeTypes.Http, Raw);

public sealed record FailNode(string Id, JsonObject Raw, string Message)
    : NodeDefinition(Id, NodeTypes.Fail, Raw);

public static class NodeTypes
{
    public const string Approval = "approval";
    public const string Form = "form";
    public const string Review = "review";
    public const string Wait = "wait";
    public const string ToolCall = "toolCall";
    public const string ForEach = "forEach";
    public const string Set = "set";
    public const string Http = "http";
    public const string Fail = "fail";

    public static readonly IReadOnlyList<string> All = [Approval, Form, Review, Wait, ToolCall, ForEach, Set, Http, Fail];
}

/// <summary>The kinds of suspension the status route and the inbox know (CONTRACT §3).</summary>
public enum WaitKind
{
    Approval,
    UserForm,
    Review,
    Wait,
    ToolCall,
}
