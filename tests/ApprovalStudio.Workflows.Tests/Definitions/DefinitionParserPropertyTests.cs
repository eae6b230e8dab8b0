using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Xml;
using ApprovalStudio.Workflows.Definitions;
using CsCheck;

namespace ApprovalStudio.Workflows.Tests.Definitions;

/// <summary>
/// Properties of <see cref="DefinitionParser"/> over generated definitions (CsCheck; a failure prints the seed that replays it,
/// e.g. <c>Check.Seed = "…"</c> or the environment variable <c>CsCheck_Seed</c>): a valid definition, built from generators of
/// nodes, edges and loops, parses to what was generated and round-trips; any mutation of one (and any text at all) is answered
/// with problems or a definition, never another exception.
/// </summary>
public sealed class DefinitionParserPropertyTests
{
    private static readonly string[] Atoms =
        ["Approve", "the", "plan", "é", "Ünïcödé", "日本語", "😀", "👩‍💻", "עברית", "x\u200by", "a\"b", "c\\d", "<b>", "&amp;", "'q'", "100%", "tab\tin", "\u0000nul"];

    private static readonly Gen<string> Text = Gen.OneOf(Atoms).Array[1, 4].Select(parts => string.Join(" ", parts));

    private static readonly Gen<string> Template = Gen.Select(Text, Gen.OneOf("", " {{input.x}}", " {{ input.amount * 2 }}", " {{a_0.decision}}"), (t, p) => t + p);

    private static readonly Gen<string> Expression =
        Gen.OneOf("input.amount * 2", "'text'", "true", "input.list", "[1, 2, 3]", "input.a && !input.b", "`n ${input.n}`", "Math.max(1, 2)", "input.list.map(x => x + 1)");

    private static readonly Gen<string> Identifier = Gen.Select(
        Gen.Char["abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"],
        Gen.Char["abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789"].Array[0, 12],
        (first, rest) => first + new string(rest));

    private static readonly Gen<string> Key = Gen.Select(
        Gen.Char["abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"],
        Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789_.-"].Array[0, 30],
        (first, rest) => first + new string(rest));

    private static readonly Gen<string> Person = Gen.OneOf("mia", "bob", "ops", "hr", "finance-team", "Ünï", "a@b.example", "日本");

    /// <summary>ISO 8601 durations as <see cref="XmlConvert"/> writes them back, so a round trip compares equal.</summary>
    private static readonly Gen<string> Duration = Gen.OneOf("PT1H", "P3D", "PT30M", "P1DT2H", "PT0.5S");

    private static readonly Gen<JsonObject> Assignees =
        from users in Person.ArrayUnique[0, 3]
        from groups in Person.ArrayUnique[0, 2]
        select Assigned(users.Length + groups.Length == 0 ? ["mia"] : users, groups);

    private static Gen<JsonObject> Human(string type) =>
        from title in Template.Null(0.3)
        from assignees in Assignees
        from expires in Duration.Null(0.5)
        from onExpire in Gen.OneOf("fail", "continue").Null(0.5)
        from requireComment in Gen.Bool.Nullable(0.5)
        from fields in Gen.OneOf("string", "number", "integer", "boolean").Array[1, 4]
        from required in Gen.Bool.Array[4]
        select Node(type, ("title", title), ("assignees", assignees), ("expiresAfter", expires), ("onExpire", onExpire),
            ("requireCommentOnReject", type == NodeTypes.Approval ? requireComment : null),
            ("schema", type == NodeTypes.Form ? Schema(fields, required) : null));

    private static readonly Gen<JsonObject> Tool =
        from name in Text
        from arguments in Gen.OneOf<JsonNode?>(null, "{{input.q}}", new JsonObject { ["q"] = "{{ input.q }}", ["n"] = 1 }, new JsonArray(1, "two"))
        select Node(null, ("name", name), ("arguments", arguments?.DeepClone()));

    private static readonly Gen<JsonObject> AnyNode = Gen.OneOf(
        Human(NodeTypes.Approval), Human(NodeTypes.Form), Human(NodeTypes.Review),
        Template.Null(0.5).Select(title => Node(NodeTypes.Wait, ("title", title))),
        Gen.Select(Template.Null(0.5), Tool.Array[1, 3], (title, tools) => Node(NodeTypes.ToolCall, ("title", title), ("tools", new JsonArray([.. tools])))),
        Expression.Select(items => Node(NodeTypes.ForEach, ("items", items))),
        Gen.Select(Identifier.ArrayUnique[0, 3], Expression, (names, value) => Node(NodeTypes.Set, ("values", new JsonObject(names.Select(n => KeyValuePair.Create(n, (JsonNode?)value)))))),
        Gen.Select(Gen.OneOf("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"), Text, Gen.Bool, (method, header, withBody) => Node(NodeTypes.Http,
            ("method", method), ("url", "https://example.test/orders/{{input.id}}"), ("headers", new JsonObject { ["X-Note"] = header }),
            ("body", withBody ? new JsonObject { ["id"] = "{{input.id}}", ["note"] = header } : null))),
        Template.Null(0.5).Select(message => Node(NodeTypes.Fail, ("message", message))));

    /// <summary>
    /// One node: what it is, which earlier node leads to it (or, when that one is a forEach without a body yet, whose body it
    /// starts), the condition on that edge, and which earlier node of its scope it may loop back to.
    /// </summary>
    private sealed record Spec(string Prefix, JsonObject Node, int Parent, bool StartsBody, string? When, int? LoopBack);

    private static readonly Gen<Spec> Specs =
        from prefix in Identifier
        from node in AnyNode
        from parent in Gen.Int[0, 1000]
        from startsBody in Gen.Bool
        from when in Expression.Null(0.7)
        from loopBack in Gen.Int[0, 1000].Nullable(0.8)
        select new Spec(prefix, node, parent, startsBody, when, loopBack);

    /// <summary>A valid definition and the forEach that owns each node (absent: the top level).</summary>
    private sealed record Generated(JsonObject Json, IReadOnlyDictionary<string, string> Owners)
    {
        public override string ToString() => Json.ToJsonString();
    }

    private static readonly Gen<Generated> Valid = Gen.Select(Key, Text.Null(0.3), Specs.Array[1, 10], Build);

    private static Generated Build(string key, string? name, Spec[] specs)
    {
        var ids = specs.Select((s, i) => $"{s.Prefix}_{i}").ToList();
        var nodes = specs.Select((s, i) => { var n = (JsonObject)s.Node.DeepClone(); n.Insert(0, "id", ids[i]); return n; }).ToList();
        var scope = new List<string?> { null };
        var bodies = new Dictionary<int, int>();
        var edges = new JsonArray();
        for (var i = 1; i < specs.Length; i++)
        {
            var parent = specs[i].Parent % i;
            if (specs[i].StartsBody && (string?)nodes[parent]["type"] == NodeTypes.ForEach && bodies.TryAdd(parent, i))
            {
                scope.Add(ids[parent]);
                continue;
            }

            scope.Add(scope[parent]);
            edges.Add(Edge(ids[parent], ids[i], specs[i].When));
            if (specs[i].LoopBack is { } back && scope[back % i] == scope[i] && back % i != parent)
            {
                edges.Add(Edge(ids[i], ids[back % i], specs[i].When));
            }
        }

        // A forEach whose body was not generated gets an empty set node as its body.
        for (var i = 0; i < specs.Length; i++)
        {
            if ((string?)nodes[i]["type"] == NodeTypes.ForEach && !bodies.ContainsKey(i))
            {
                ids.Add($"body_{i}");
                nodes.Add(Node(NodeTypes.Set, ("values", new JsonObject())));
                nodes[^1].Insert(0, "id", ids[^1]);
                scope.Add(ids[i]);
                bodies[i] = nodes.Count - 1;
            }

            if (bodies.TryGetValue(i, out var body))
            {
                nodes[i]["body"] = ids[body];
            }
        }

        var json = Node(null, ("key", key), ("name", name), ("start", ids[0]), ("nodes", new JsonArray([.. nodes])), ("edges", edges));
        var owners = ids.Select((id, i) => (id, owner: scope[i])).Where(x => x.owner is not null).ToDictionary(x => x.id, x => x.owner!, StringComparer.Ordinal);
        return new Generated(json, owners);
    }

    [Fact]
    public void A_generated_valid_definition_parses_to_what_was_generated_and_round_trips()
    {
        Valid.Sample(generated =>
        {
            var (definition, problems) = DefinitionParser.Parse(JsonNode.Parse(generated.Json.ToJsonString()));

            Assert.True(problems.Count == 0, string.Join("; ", problems));
            Assert.NotNull(definition);
            Assert.Equal(generated.Owners.OrderBy(p => p.Key, StringComparer.Ordinal), definition.Owners.OrderBy(p => p.Key, StringComparer.Ordinal));
            var written = Write(definition);
            Assert.True(Within(generated.Json, written), $"The parsed definition lost or changed something:\n{generated.Json.ToJsonString()}\n{written.ToJsonString()}");

            var again = DefinitionParser.ParseOrThrow(written.ToJsonString());
            Assert.True(JsonNode.DeepEquals(written, Write(again)), $"Not a fixpoint:\n{written.ToJsonString()}\n{Write(again).ToJsonString()}");
            Assert.Equal(definition.Owners.OrderBy(p => p.Key, StringComparer.Ordinal), again.Owners.OrderBy(p => p.Key, StringComparer.Ordinal));
        }, iter: 300);
    }

    [Fact]
    public void Any_mutation_of_a_valid_definition_is_answered_with_problems_or_a_definition_never_an_exception()
    {
        var bases = Gen.Frequency((1, Gen.Const(JsonNode.Parse(AllKinds)!.AsObject())), (3, Valid.Select(g => g.Json)));
        var texts = Gen.Select(bases, Mutation.Array[1, 4], Mutate);

        texts.Sample(ParsesOrNamesProblems, iter: 2000, print: Shorten);
    }

    [Fact]
    public void Any_text_is_answered_with_problems_or_a_definition_never_an_exception()
    {
        var texts = Gen.OneOf(
            Gen.Byte.Array[0, 300].Select(bytes => Encoding.UTF8.GetString(bytes)),
            Gen.Byte.Array[0, 300].Select(bytes => Encoding.Latin1.GetString(bytes)),
            Gen.Char["{}[]\":,0123456789.eE+-truefalsnl \\u"].Array[0, 200].Select(chars => new string(chars)));

        texts.Sample(ParsesOrNamesProblems, iter: 1000, print: Shorten);
    }

    private static void ParsesOrNamesProblems(string text)
    {
        try
        {
            DefinitionParser.ParseOrThrow(text);
        }
        catch (InvalidDefinitionException ex)
        {
            Assert.NotEmpty(ex.Problems);
            Assert.All(ex.Problems, p => Assert.False(string.IsNullOrEmpty(p.Path) || string.IsNullOrEmpty(p.Message), p.ToString()));
        }

        // The same text handed over as a parsed node (what the API does) is answered the same way.
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return;
        }

        var (definition, problems) = DefinitionParser.Parse(node);
        Assert.True((definition is null) == (problems.Count > 0), "Either a definition or problems.");
    }

    private static string Shorten(string text) => text.Length > 3000 ? $"{text[..3000]}… ({text.Length} chars)" : text;

    /// <summary>A change to a definition: where (an index into its values, or into its text) and what.</summary>
    private sealed record Change(ChangeKind Kind, int Where, int Pick);

    private enum ChangeKind
    {
        Delete,
        Rename,
        Duplicate,
        WrongType,
        RawValue,
        OddString,
        Truncate,
        InsertBytes,
    }

    private static readonly Gen<Change> Mutation = Gen.Select(Gen.Enum<ChangeKind>(), Gen.Int[0, 100_000], Gen.Int[0, 1000], (k, w, p) => new Change(k, w, p));

    private static readonly JsonNode?[] WrongTypes =
        [null, true, false, 0, -1, 1.5, "", " ", "x", new JsonArray(), new JsonObject(), new JsonArray(1, "a", null), new JsonObject { ["a"] = null }];

    /// <summary>JSON text no <see cref="JsonNode"/> is built from: huge numbers, lone surrogates, deep nesting.</summary>
    private static readonly string[] RawValues =
    [
        "1e400", "-1e400", "1e-400", "-0", "123456789012345678901234567890", "9223372036854775808", "0.0000000000000000000000000001",
        "\"\\ud800\"", "\"a\\udfff\"", "\"\\udc00\\ud800\"", "\"\\ud83d\"", "\"{{ \\ud800 }}\"",
        new string('[', 50) + new string(']', 50), new string('[', 70) + new string(']', 70),
        string.Concat(Enumerable.Repeat("{\"a\":", 40)) + "1" + new string('}', 40),
    ];

    private static readonly string[] OddStrings =
    [
        "", " ", "\t\n", "\u0000", "\u202e", "e\u0301", "😀", "{{", "}}", "{{}}", "{{ ) }}", "{{ input.x }}{{", "PT", "P", "-PT1H", "P99999999999D",
        "input", "__proto__", "constructor", "toString", new string('x', 100_000), "{{ " + new string('(', 5000) + "1" + new string(')', 5000) + " }}",
        new string('(', 5000) + "1" + new string(')', 5000), "(a+)+$", "[", "GET\r\nX-Injected: 1",
    ];

    private static readonly string[] Names = ["id", "type", "key", "start", "nodes", "edges", "from", "to", "when", "", " ", "ID", "Type", "__proto__", "ü", "😀"];

    private static string Mutate(JsonObject definition, Change[] changes)
    {
        var root = definition.DeepClone();
        var raw = new List<(string Marker, string Text)>();
        var text = (string?)null;
        foreach (var change in changes)
        {
            if (change.Kind is ChangeKind.Truncate or ChangeKind.InsertBytes)
            {
                text ??= Render(root, raw);
                var at = change.Where % (text.Length + 1);
                text = change.Kind == ChangeKind.Truncate
                    ? text[..at]
                    : text[..at] + Encoding.Latin1.GetString(BitConverter.GetBytes(change.Pick * 2_654_435_761L)) + text[at..];
                continue;
            }

            if (text is not null)
            {
                continue; // Text changes come last: the tree is gone.
            }

            var slots = Slots(root).ToList();
            if (slots.Count == 0)
            {
                break;
            }

            var (parent, name, index) = slots[change.Where % slots.Count];
            switch (change.Kind)
            {
                case ChangeKind.Delete when parent is JsonObject o:
                    o.Remove(name!);
                    break;
                case ChangeKind.Delete:
                    ((JsonArray)parent).RemoveAt(index);
                    break;
                case ChangeKind.Rename or ChangeKind.Duplicate when parent is JsonObject o:
                    // Through a marker, so that the new name may be a sibling's (a duplicate) or a lone surrogate.
                    var marker = $"@@key{raw.Count}@@";
                    var target = change.Pick % 3 == 0 ? "\"\\ud800\"" : JsonSerializer.Serialize(change.Kind == ChangeKind.Duplicate ? name : Names[change.Pick % Names.Length]);
                    raw.Add(($"\"{marker}\"", target));
                    var value = o[name!];
                    if (change.Kind == ChangeKind.Rename)
                    {
                        var position = o.IndexOf(name!);
                        o.RemoveAt(position);
                        o.Insert(position, marker, value);
                    }
                    else
                    {
                        o[marker] = value?.DeepClone();
                    }

                    break;
                case ChangeKind.Rename or ChangeKind.Duplicate:
                    var array = (JsonArray)parent;
                    array.Insert(index, array[index]?.DeepClone());
                    break;
                case ChangeKind.WrongType:
                    Set(parent, name, index, WrongTypes[change.Pick % WrongTypes.Length]?.DeepClone());
                    break;
                case ChangeKind.RawValue:
                    var valueMarker = $"@@value{raw.Count}@@";
                    raw.Add(($"\"{valueMarker}\"", RawValues[change.Pick % RawValues.Length]));
                    Set(parent, name, index, valueMarker);
                    break;
                case ChangeKind.OddString:
                    Set(parent, name, index, OddStrings[change.Pick % OddStrings.Length]);
                    break;
            }
        }

        return text ?? Render(root, raw);
    }

    private static string Render(JsonNode root, List<(string Marker, string Text)> raw) =>
        raw.Aggregate(root.ToJsonString(), (text, r) => text.Replace(r.Marker, r.Text, StringComparison.Ordinal));

    private static void Set(JsonNode parent, string? name, int index, JsonNode? value)
    {
        if (parent is JsonObject o)
        {
            o[name!] = value;
        }
        else
        {
            ((JsonArray)parent)[index] = value;
        }
    }

    private static IEnumerable<(JsonNode Parent, string? Name, int Index)> Slots(JsonNode node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (name, value) in o.ToList())
                {
                    yield return (o, name, -1);
                    if (value is not null)
                    {
                        foreach (var slot in Slots(value))
                        {
                            yield return slot;
                        }
                    }
                }

                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    yield return (a, null, i);
                    if (a[i] is { } item)
                    {
                        foreach (var slot in Slots(item))
                        {
                            yield return slot;
                        }
                    }
                }

                break;
        }
    }

    /// <summary>Every kind of node, as in <see cref="DefinitionParserTests"/>.</summary>
    private const string AllKinds = """
        {"key":"all","name":"All kinds","start":"a",
         "nodes":[
          {"id":"a","type":"approval","title":"A","assignees":{"users":["u"]},"expiresAfter":"PT1H","requireCommentOnReject":true},
          {"id":"f","type":"form","title":"F","assignees":{"groups":["g"]},"schema":{"type":"object","required":["x"],"properties":{"x":{"type":"string","pattern":"^a","minLength":1},"n":{"type":"integer","minimum":0,"enum":[1,2]}}}},
          {"id":"r","type":"review","assignees":{"groups":["g"]},"onExpire":"continue","expiresAfter":"P1D"},
          {"id":"w","type":"wait"},
          {"id":"t","type":"toolCall","tools":[{"name":"lookup","arguments":{"q":"{{input.q}}"}}]},
          {"id":"loop","type":"forEach","items":"input.list","body":"s"},
          {"id":"s","type":"set","values":{"v":"item * 2"}},
          {"id":"h","type":"http","method":"post","url":"http://x/{{input.id}}","headers":{"X-A":"{{input.a}}"},"body":{"a":"{{a.decision}}"}},
          {"id":"x","type":"fail","message":"no {{input.q}}"}],
         "edges":[{"from":"a","to":"f","when":"a.decision == 'Approved'"},{"from":"f","to":"r"},{"from":"r","to":"w"},
                  {"from":"w","to":"t"},{"from":"t","to":"loop"},{"from":"loop","to":"h"},{"from":"h","to":"x"}]}
        """;

    private static JsonObject Node(string? type, params (string Name, object? Value)[] fields)
    {
        var node = type is null ? [] : new JsonObject { ["type"] = type };
        foreach (var (name, value) in fields)
        {
            if (value is not null)
            {
                node[name] = value switch
                {
                    JsonNode json => json,
                    string text => text,
                    bool flag => flag,
                    _ => throw new ArgumentException($"Unexpected {value.GetType().Name}.", nameof(fields)),
                };
            }
        }

        return node;
    }

    private static JsonObject Assigned(IEnumerable<string> users, IEnumerable<string> groups) => new()
    {
        ["users"] = new JsonArray([.. users.Select(u => JsonValue.Create(u))]),
        ["groups"] = new JsonArray([.. groups.Select(g => JsonValue.Create(g))]),
    };

    private static JsonObject Schema(string[] types, bool[] required) => new()
    {
        ["type"] = "object",
        ["required"] = new JsonArray([.. types.Select((_, i) => $"f{i}").Where((_, i) => required[i]).Select(n => JsonValue.Create(n))]),
        ["properties"] = new JsonObject(types.Select((t, i) => KeyValuePair.Create($"f{i}", (JsonNode?)new JsonObject { ["type"] = t, ["title"] = $"Field {i}" }))),
    };

    private static JsonObject Edge(string from, string to, string? when) => Node(null, ("from", from), ("to", to), ("when", when));

    /// <summary>A parsed definition written back as a definition, from its typed fields only (not from the JSON it was read from).</summary>
    private static JsonObject Write(WorkflowDefinition definition) => Node(null,
        ("key", definition.Key), ("name", definition.Name), ("start", definition.Start),
        ("nodes", new JsonArray([.. definition.Nodes.Values.Select(Write)])),
        ("edges", new JsonArray([.. definition.Edges.Select(e => Edge(e.From, e.To, e.When))])));

    private static JsonObject Write(NodeDefinition node)
    {
        var written = node switch
        {
            HumanNodeDefinition human => Node(node.Type, ("title", human.Title), ("assignees", Assigned(human.Assignees.Users, human.Assignees.Groups)),
                ("expiresAfter", human.ExpiresAfter is { } d ? XmlConvert.ToString(d) : null), ("onExpire", human.OnExpire == ExpiryAction.Continue ? "continue" : "fail"),
                ("requireCommentOnReject", (human as ApprovalNode)?.RequireCommentOnReject), ("schema", (human as FormNode)?.Schema.DeepClone())),
            WaitNode wait => Node(node.Type, ("title", wait.Title)),
            ToolCallNode tools => Node(node.Type, ("title", tools.Title),
                ("tools", new JsonArray([.. tools.Tools.Select(t => Node(null, ("name", t.Name), ("arguments", t.Arguments?.DeepClone())))]))),
            ForEachNode loop => Node(node.Type, ("items", loop.Items), ("body", loop.Body)),
            SetNode set => Node(node.Type, ("values", new JsonObject(set.Values.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))))),
            HttpNode http => Node(node.Type, ("method", http.Method), ("url", http.Url),
                ("headers", new JsonObject(http.Headers.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value)))), ("body", http.Body?.DeepClone())),
            FailNode fail => Node(node.Type, ("message", fail.Message)),
            _ => throw new InvalidOperationException($"Unknown node {node.GetType().Name}."),
        };
        written.Insert(0, "id", node.Id);
        return written;
    }

    /// <summary>Whether everything <paramref name="part"/> says, <paramref name="whole"/> says too (objects may have more properties).</summary>
    private static bool Within(JsonNode? part, JsonNode? whole) => (part, whole) switch
    {
        (JsonObject p, JsonObject w) => p.All(x => w.ContainsKey(x.Key) && Within(x.Value, w[x.Key])),
        (JsonArray p, JsonArray w) => p.Count == w.Count && p.Zip(w).All(x => Within(x.First, x.Second)),
        _ => JsonNode.DeepEquals(part, whole),
    };
}
