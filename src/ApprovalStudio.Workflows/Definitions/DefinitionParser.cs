using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml;
using ApprovalStudio.Workflows.Expressions;
using ApprovalStudio.Workflows.Json;

namespace ApprovalStudio.Workflows.Definitions;

/// <summary>
/// Reads a workflow definition from JSON and reports every problem at once (not only the first),
/// each with the JSON path it concerns, so an author can fix a definition in one round trip.
/// </summary>
public static partial class DefinitionParser
{
    /// <summary>Names the expression context uses; a node id may not shadow them.</summary>
    public static readonly IReadOnlySet<string> ReservedIds =
        new HashSet<string>(StringComparer.Ordinal) { "input", "item", "index", "loops", "transcript", "run" };

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,99}$")]
    private static partial Regex NodeIdPattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
    private static partial Regex KeyPattern();

    public static WorkflowDefinition ParseOrThrow(string json)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new InvalidDefinitionException([new DefinitionProblem("$", "Malformed JSON: " + ex.Message)]);
        }

        var (definition, problems) = Parse(node);
        return definition ?? throw new InvalidDefinitionException(problems);
    }

    public static (WorkflowDefinition? Definition, IReadOnlyList<DefinitionProblem> Problems) Parse(JsonNode? json)
    {
        var problems = new List<DefinitionProblem>();
        if (json is not JsonObject root)
        {
            return (null, [new DefinitionProblem("$", "A definition is a JSON object.")]);
        }

        // A property given twice or a lone surrogate would throw wherever it is first read: refused here, naming where it is.
        if (UnreadableJson.Find(root) is { } unreadable)
        {
            return (null, [new DefinitionProblem(unreadable.Path.StartsWith("$.", StringComparison.Ordinal) ? unreadable.Path[2..] : unreadable.Path, unreadable.Problem)]);
        }

        var key = RequiredString(root, "key", "key", problems);
        if (key is not null && !KeyPattern().IsMatch(key))
        {
            problems.Add(new("key", "Use 1–100 letters, digits, '-', '_' or '.', starting with a letter or digit."));
        }

        var name = OptionalString(root, "name", "name", problems) ?? key ?? string.Empty;
        var distinctApprovers = false;
        if (root["distinctApprovers"] is { } distinct)
        {
            if (distinct is JsonValue value && value.TryGetValue<bool>(out var flag))
            {
                distinctApprovers = flag;
            }
            else
            {
                problems.Add(new("distinctApprovers", "'distinctApprovers' must be true or false."));
            }
        }

        var start = RequiredString(root, "start", "start", problems);

        var nodes = new Dictionary<string, NodeDefinition>(StringComparer.Ordinal);
        var declared = new HashSet<string>(StringComparer.Ordinal);
        if (root["nodes"] is not JsonArray nodeArray || nodeArray.Count == 0)
        {
            problems.Add(new("nodes", "A definition needs a non-empty array of nodes."));
        }
        else
        {
            for (var i = 0; i < nodeArray.Count; i++)
            {
                if (nodeArray[i] is JsonObject candidate && candidate["id"] is JsonValue idValue && idValue.TryGetValue<string>(out var declaredId)
                    && !declared.Add(declaredId))
                {
                    problems.Add(new($"nodes[{i}].id", $"Duplicate node id '{declaredId}'."));
                    continue;
                }

                if (ParseNode(nodeArray[i], $"nodes[{i}]", problems) is { } parsed)
                {
                    nodes.Add(parsed.Id, parsed);
                }
            }
        }

        var edges = new List<EdgeDefinition>();
        if (root["edges"] is JsonNode edgesNode)
        {
            if (edgesNode is not JsonArray edgeArray)
            {
                problems.Add(new("edges", "Edges are an array of {from, to, when?}."));
            }
            else
            {
                for (var i = 0; i < edgeArray.Count; i++)
                {
                    var edge = ParseEdge(edgeArray[i], $"edges[{i}]", declared, problems);
                    if (edge is not null)
                    {
                        edges.Add(edge);
                    }
                }
            }
        }

        if (start is not null && declared.Count > 0 && !declared.Contains(start))
        {
            problems.Add(new("start", $"The start node '{start}' is not among the nodes."));
        }

        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        if (problems.Count == 0)
        {
            owners = ResolveOwnership(start!, nodes, edges, problems);
        }

        if (problems.Count > 0)
        {
            return (null, problems);
        }

        foreach (var approval in nodes.Values.OfType<ApprovalNode>().ToList())
        {
            var routed = edges.Any(e => e.From == approval.Id && e.When?.Contains(Resumption.ApprovalDecisions.RequestChanges, StringComparison.Ordinal) == true);
            nodes[approval.Id] = approval with { TakesRequestChanges = routed };
        }

        return (new WorkflowDefinition(key!, name, start!, nodes, edges) { Owners = owners, DistinctApprovers = distinctApprovers }, problems);
    }

    /// <summary>
    /// Each node belongs to exactly one scope: the top level (reachable from start) or the body of
    /// one forEach (reachable from its body). A node in two scopes, or in none, is a problem.
    /// </summary>
    private static Dictionary<string, string> ResolveOwnership(
        string start, Dictionary<string, NodeDefinition> nodes, List<EdgeDefinition> edges, List<DefinitionProblem> problems)
    {
        var index = nodes.Keys.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i, StringComparer.Ordinal);
        var outgoing = edges.ToLookup(e => e.From, e => e.To, StringComparer.Ordinal);
        var scopeOf = new Dictionary<string, string?>(StringComparer.Ordinal);
        var pendingScopes = new Queue<(string? Owner, string Entry)>();
        pendingScopes.Enqueue((null, start));

        while (pendingScopes.Count > 0)
        {
            var (owner, entry) = pendingScopes.Dequeue();
            var seen = new HashSet<string>(StringComparer.Ordinal) { entry };
            var frontier = new Stack<string>([entry]);
            while (frontier.Count > 0)
            {
                var id = frontier.Pop();
                if (scopeOf.TryGetValue(id, out var existing))
                {
                    if (existing != owner)
                    {
                        problems.Add(new($"nodes[{index[id]}]",
                            $"Node '{id}' is reachable both {Describe(existing)} and {Describe(owner)}; a node belongs to one scope."));
                    }

                    continue;
                }

                scopeOf[id] = owner;
                if (nodes[id] is ForEachNode loop)
                {
                    if (loop.Body == loop.Id)
                    {
                        problems.Add(new($"nodes[{index[id]}].body", $"forEach '{id}' cannot be its own body."));
                    }
                    else if (!nodes.ContainsKey(loop.Body))
                    {
                        problems.Add(new($"nodes[{index[id]}].body", $"The body node '{loop.Body}' is not among the nodes."));
                    }
                    else
                    {
                        pendingScopes.Enqueue((loop.Id, loop.Body));
                    }
                }

                foreach (var next in outgoing[id])
                {
                    if (seen.Add(next))
                    {
                        frontier.Push(next);
                    }
                }
            }
        }

        foreach (var (id, i) in index)
        {
            if (!scopeOf.ContainsKey(id))
            {
                problems.Add(new($"nodes[{i}]", $"Node '{id}' is unreachable from the start node or any forEach body."));
            }
        }

        return scopeOf.Where(p => p.Value is not null).ToDictionary(p => p.Key, p => p.Value!, StringComparer.Ordinal);

        static string Describe(string? owner) => owner is null ? "from the start node" : $"inside the body of forEach '{owner}'";
    }

    private static EdgeDefinition? ParseEdge(JsonNode? json, string path, HashSet<string> nodes, List<DefinitionProblem> problems)
    {
        if (json is not JsonObject edge)
        {
            problems.Add(new(path, "An edge is an object {from, to, when?}."));
            return null;
        }

        var from = RequiredString(edge, "from", path + ".from", problems);
        var to = RequiredString(edge, "to", path + ".to", problems);
        var when = OptionalString(edge, "when", path + ".when", problems);
        if (from is not null && !nodes.Contains(from))
        {
            problems.Add(new(path + ".from", $"Edge from unknown node '{from}'."));
            from = null;
        }

        if (to is not null && !nodes.Contains(to))
        {
            problems.Add(new(path + ".to", $"Edge to unknown node '{to}'."));
            to = null;
        }

        CheckExpression(when, path + ".when", problems);
        return from is null || to is null ? null : new EdgeDefinition(from, to, when);
    }

    private static NodeDefinition? ParseNode(JsonNode? json, string path, List<DefinitionProblem> problems)
    {
        if (json is not JsonObject node)
        {
            problems.Add(new(path, "A node is an object {id, type, ...}."));
            return null;
        }

        var before = problems.Count;
        var id = RequiredString(node, "id", path + ".id", problems);
        if (id is not null && !NodeIdPattern().IsMatch(id))
        {
            problems.Add(new(path + ".id", $"Node id '{id}' must be an identifier (letters, digits, '_'; not starting with a digit) so expressions can read it as '{id}.field'."));
        }
        else if (id is not null && ReservedIds.Contains(id))
        {
            problems.Add(new(path + ".id", $"Node id '{id}' is reserved for the expression context."));
        }

        var type = RequiredString(node, "type", path + ".type", problems);
        if (type is not null && !NodeTypes.All.Contains(type))
        {
            problems.Add(new(path + ".type", $"Unknown node type '{type}'. Known: {string.Join(", ", NodeTypes.All)}."));
            return null;
        }

        if (id is null || type is null)
        {
            return null;
        }

        NodeDefinition? parsed = type switch
        {
            NodeTypes.Approval => Approval(id, node, path, problems),
            NodeTypes.Form => new FormNode(id, node, Title(node, path, id, problems), ParseAssignees(node, path, problems),
                Duration(node, path, problems), Expiry(node, path, problems), FormSchema.Check(node["schema"], path + ".schema", problems)),
            NodeTypes.Review => new ReviewNode(id, node, Title(node, path, id, problems), ParseAssignees(node, path, problems),
                Duration(node, path, problems), Expiry(node, path, problems)),
            NodeTypes.Wait => new WaitNode(id, node, Title(node, path, id, problems)),
            NodeTypes.ToolCall => new ToolCallNode(id, node, Title(node, path, id, problems), Tools(node, path, problems)),
            NodeTypes.ForEach => new ForEachNode(id, node,
                Expression(node, "items", path, problems) ?? string.Empty,
                RequiredString(node, "body", path + ".body", problems) ?? string.Empty),
            NodeTypes.Set => new SetNode(id, node, Values(node, path, problems)),
            NodeTypes.Http => Http(id, node, path, problems),
            NodeTypes.Fail => new FailNode(id, node, TemplateString(node, "message", path, problems) ?? $"Failed at '{id}'."),
            _ => null,
        };

        return problems.Count == before ? parsed : null;
    }

    private static ApprovalNode Approval(string id, JsonObject node, string path, List<DefinitionProblem> problems)
    {
        var assignees = ParseAssignees(node, path, problems);
        return new ApprovalNode(id, node, Title(node, path, id, problems), assignees,
            Duration(node, path, problems), Expiry(node, path, problems),
            OptionalBool(node, "requireCommentOnReject", path, problems) ?? false,
            OptionalBool(node, "allowRequester", path, problems) ?? false)
        {
            Quorum = Resumption.QuorumParser.Parse(node["quorum"], assignees, path + ".quorum", problems),
        };
    }

    private static HttpNode Http(string id, JsonObject node, string path, List<DefinitionProblem> problems)
    {
        var method = (OptionalString(node, "method", path + ".method", problems) ?? "GET").ToUpperInvariant();
        if (method is not ("GET" or "POST" or "PUT" or "PATCH" or "DELETE" or "HEAD"))
        {
            problems.Add(new(path + ".method", $"Unsupported HTTP method '{method}'."));
        }

        var url = RequiredString(node, "url", path + ".url", problems) ?? string.Empty;
        CheckTemplate(url, path + ".url", problems);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (node["headers"] is JsonObject headerObject)
        {
            foreach (var (name, value) in headerObject)
            {
                if (value is JsonValue v && v.TryGetValue<string>(out var s))
                {
                    headers[name] = s;
                    CheckTemplate(s, $"{path}.headers.{name}", problems);
                }
                else
                {
                    problems.Add(new($"{path}.headers.{name}", "A header value is a string."));
                }
            }
        }
        else if (node["headers"] is not null)
        {
            problems.Add(new(path + ".headers", "Headers are an object of name → string."));
        }

        var body = node["body"];
        foreach (var expression in Template.Expressions(body))
        {
            CheckExpression(expression, path + ".body", problems);
        }

        return new HttpNode(id, node, method, url, headers, body?.DeepClone());
    }

    private static IReadOnlyList<ToolDefinition> Tools(JsonObject node, string path, List<DefinitionProblem> problems)
    {
        if (node["tools"] is not JsonArray tools || tools.Count == 0)
        {
            problems.Add(new(path + ".tools", "A toolCall node needs a non-empty array of {name, arguments}."));
            return [];
        }

        var result = new List<ToolDefinition>();
        for (var i = 0; i < tools.Count; i++)
        {
            var toolPath = $"{path}.tools[{i}]";
            if (tools[i] is not JsonObject tool)
            {
                problems.Add(new(toolPath, "A tool is an object {name, arguments}."));
                continue;
            }

            var name = RequiredString(tool, "name", toolPath + ".name", problems);
            foreach (var expression in Template.Expressions(tool["arguments"]))
            {
                CheckExpression(expression, toolPath + ".arguments", problems);
            }

            if (name is not null)
            {
                result.Add(new ToolDefinition(name, tool["arguments"]?.DeepClone()));
            }
        }

        return result;
    }

    private static IReadOnlyDictionary<string, string> Values(JsonObject node, string path, List<DefinitionProblem> problems)
    {
        if (node["values"] is not JsonObject values)
        {
            problems.Add(new(path + ".values", "A set node needs 'values': an object of name → expression."));
            return new Dictionary<string, string>();
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, value) in values)
        {
            if (value is JsonValue v && v.TryGetValue<string>(out var expression))
            {
                if (CheckExpression(expression, $"{path}.values.{name}", problems))
                {
                    result[name] = expression;
                }
            }
            else
            {
                problems.Add(new($"{path}.values.{name}", "A value is an expression string, e.g. \"input.amount * 2\" or \"'text'\"."));
            }
        }

        return result;
    }

    private static Assignees ParseAssignees(JsonObject node, string path, List<DefinitionProblem> problems)
    {
        if (node["assignees"] is not JsonObject assignees)
        {
            problems.Add(new(path + ".assignees", "Name who may answer: {\"users\": [...], \"groups\": [...]}."));
            return Assignees.None;
        }

        var users = StringArray(assignees, "users", path + ".assignees.users", problems);
        var groups = StringArray(assignees, "groups", path + ".assignees.groups", problems);
        if (users.Count == 0 && groups.Count == 0)
        {
            problems.Add(new(path + ".assignees", "At least one user or group must be assigned."));
        }

        return new Assignees(users, groups);
    }

    private static List<string> StringArray(JsonObject obj, string property, string path, List<DefinitionProblem> problems)
    {
        if (obj[property] is null)
        {
            return [];
        }

        if (obj[property] is JsonArray array && array.All(x => x is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0))
        {
            return [.. array.Select(x => x!.GetValue<string>()).Distinct(StringComparer.Ordinal)];
        }

        problems.Add(new(path, "Expected an array of non-empty strings."));
        return [];
    }

    private static TimeSpan? Duration(JsonObject node, string path, List<DefinitionProblem> problems)
    {
        var text = OptionalString(node, "expiresAfter", path + ".expiresAfter", problems);
        if (text is null)
        {
            return null;
        }

        try
        {
            var duration = XmlConvert.ToTimeSpan(text);
            if (duration > TimeSpan.Zero)
            {
                return duration;
            }
        }
        catch (FormatException)
        {
        }

        problems.Add(new(path + ".expiresAfter", $"'{text}' is not a positive ISO 8601 duration such as PT4H or P3D."));
        return null;
    }

    private static ExpiryAction Expiry(JsonObject node, string path, List<DefinitionProblem> problems)
    {
        var text = OptionalString(node, "onExpire", path + ".onExpire", problems);
        switch (text)
        {
            case null or "fail":
                return ExpiryAction.Fail;
            case "continue":
                return ExpiryAction.Continue;
            default:
                problems.Add(new(path + ".onExpire", $"'{text}' is not an expiry policy; use \"fail\" (default) or \"continue\"."));
                return ExpiryAction.Fail;
        }
    }

    private static string Title(JsonObject node, string path, string id, List<DefinitionProblem> problems) =>
        TemplateString(node, "title", path, problems) ?? id;

    private static string? TemplateString(JsonObject node, string property, string path, List<DefinitionProblem> problems)
    {
        var text = OptionalString(node, property, $"{path}.{property}", problems);
        if (text is not null)
        {
            CheckTemplate(text, $"{path}.{property}", problems);
        }

        return text;
    }

    private static string? Expression(JsonObject node, string property, string path, List<DefinitionProblem> problems)
    {
        var text = RequiredString(node, property, $"{path}.{property}", problems);
        return CheckExpression(text, $"{path}.{property}", problems) ? text : null;
    }

    private static void CheckTemplate(string template, string path, List<DefinitionProblem> problems)
    {
        foreach (var expression in Template.Expressions(template))
        {
            CheckExpression(expression, path, problems);
        }
    }

    private static bool CheckExpression(string? expression, string path, List<DefinitionProblem> problems)
    {
        if (expression is null)
        {
            return true;
        }

        var error = ExpressionEvaluator.SyntaxError(expression);
        if (error is null)
        {
            return true;
        }

        problems.Add(new(path, $"Unparsable expression '{expression}': {error}"));
        return false;
    }

    private static string? RequiredString(JsonObject obj, string property, string path, List<DefinitionProblem> problems)
    {
        var value = OptionalString(obj, property, path, problems);
        if (value is null && obj[property] is null)
        {
            problems.Add(new(path, $"'{property}' is required."));
        }

        return value;
    }

    private static string? OptionalString(JsonObject obj, string property, string path, List<DefinitionProblem> problems)
    {
        var node = obj[property];
        if (node is null)
        {
            return null;
        }

        if (node is JsonValue v && v.TryGetValue<string>(out var s) && !string.IsNullOrWhiteSpace(s))
        {
            return s;
        }

        problems.Add(new(path, $"'{property}' must be a non-empty string."));
        return null;
    }

    private static bool? OptionalBool(JsonObject obj, string property, string path, List<DefinitionProblem> problems)
    {
        var node = obj[property];
        if (node is null)
        {
            return null;
        }

        if (node is JsonValue v && v.TryGetValue<bool>(out var b))
        {
            return b;
        }

        problems.Add(new($"{path}.{property}", $"'{property}' must be true or false."));
        return null;
    }
}
