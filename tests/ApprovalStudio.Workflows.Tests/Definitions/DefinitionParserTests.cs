using System.Text.Json.Nodes;
using ApprovalStudio.Workflows.Definitions;

namespace ApprovalStudio.Workflows.Tests.Definitions;

public sealed class DefinitionParserTests
{
    private static (WorkflowDefinition? Definition, IReadOnlyList<DefinitionProblem> Problems) Parse(string json) =>
        DefinitionParser.Parse(JsonNode.Parse(json));

    [Fact]
    public void A_valid_definition_parses_every_node_kind()
    {
        var (definition, problems) = Parse("""
            {"key":"all","name":"All kinds","start":"a",
             "nodes":[
              {"id":"a","type":"approval","title":"A","assignees":{"users":["u"]},"expiresAfter":"PT1H","requireCommentOnReject":true},
              {"id":"f","type":"form","title":"F","assignees":{"groups":["g"]},"schema":{"type":"object","properties":{"x":{"type":"string"}}}},
              {"id":"r","type":"review","assignees":{"groups":["g"]},"onExpire":"continue","expiresAfter":"P1D"},
              {"id":"w","type":"wait"},
              {"id":"t","type":"toolCall","tools":[{"name":"lookup","arguments":{"q":"{{input.q}}"}}]},
              {"id":"loop","type":"forEach","items":"input.list","body":"s"},
              {"id":"s","type":"set","values":{"v":"item * 2"}},
              {"id":"h","type":"http","method":"post","url":"http://x/{{input.id}}","body":{"a":"{{a.decision}}"}},
              {"id":"x","type":"fail","message":"no {{input.q}}"}],
             "edges":[{"from":"a","to":"f","when":"a.decision == 'Approved'"},{"from":"f","to":"r"},{"from":"r","to":"w"},
                      {"from":"w","to":"t"},{"from":"t","to":"loop"},{"from":"loop","to":"h"},{"from":"h","to":"x"}]}
            """);

        Assert.Empty(problems);
        Assert.NotNull(definition);
        Assert.Equal(9, definition.Nodes.Count);
        var approval = Assert.IsType<ApprovalNode>(definition.Node("a"));
        Assert.Equal(TimeSpan.FromHours(1), approval.ExpiresAfter);
        Assert.True(approval.RequireCommentOnReject);
        Assert.Equal(ExpiryAction.Continue, Assert.IsType<ReviewNode>(definition.Node("r")).OnExpire);
        Assert.Equal("POST", Assert.IsType<HttpNode>(definition.Node("h")).Method);
        Assert.Equal("loop", definition.Owners["s"]);
        Assert.Equal(["loop"], definition.EnclosingLoops("s"));
        Assert.Empty(definition.EnclosingLoops("h"));
    }

    [Fact]
    public void Every_problem_is_reported_at_once_with_its_path()
    {
        var (definition, problems) = Parse("""
            {"key":"bad key!","start":"a",
             "nodes":[
              {"id":"a","type":"approval","title":"A","assignees":{}},
              {"id":"a","type":"review","assignees":{"users":["u"]}},
              {"id":"b","type":"teleport"},
              {"id":"f","type":"form","assignees":{"users":["u"]},"schema":{"type":"object","properties":{"n":{"type":"strng","pattern":"(["}}}},
              {"id":"s","type":"set","values":{"v":"1 +"}},
              {"id":"d","type":"approval","assignees":{"users":["u"]},"expiresAfter":"three days"}],
             "edges":[{"from":"a","to":"nowhere"},{"from":"a","to":"s","when":"a.decision =="}]}
            """);

        Assert.Null(definition);
        var paths = problems.Select(p => p.Path).ToHashSet();
        Assert.Contains("key", paths);
        Assert.Contains("nodes[0].assignees", paths);
        Assert.Contains("nodes[1].id", paths);
        Assert.Contains("nodes[2].type", paths);
        Assert.Contains("nodes[3].schema.properties.n.type", paths);
        Assert.Contains("nodes[3].schema.properties.n.pattern", paths);
        Assert.Contains("nodes[4].values.v", paths);
        Assert.Contains("nodes[5].expiresAfter", paths);
        Assert.Contains("edges[0].to", paths);
        Assert.Contains("edges[1].when", paths);
        Assert.Contains(problems, p => p.Path == "nodes[1].id" && p.Message.Contains("Duplicate node id 'a'"));
        Assert.Contains(problems, p => p.Path == "edges[0].to" && p.Message.Contains("nowhere"));
    }

    [Theory]
    [InlineData("""{"key":"k","start":"a","nodes":[{"id":"a","type":"set","values":{}}, {"id":"b","type":"set","values":{}}]}""", "nodes[1]", "unreachable")]
    [InlineData("""{"key":"k","start":"zz","nodes":[{"id":"a","type":"set","values":{}}]}""", "start", "not among the nodes")]
    [InlineData("""{"key":"k","start":"a","nodes":[{"id":"a","type":"forEach","items":"[1]","body":"b"},{"id":"b","type":"set","values":{}}],"edges":[{"from":"a","to":"b"}]}""", "nodes[1]", "reachable both")]
    [InlineData("""{"key":"k","start":"a","nodes":[{"id":"a","type":"forEach","items":"[1]","body":"a"}]}""", "nodes[0].body", "own body")]
    [InlineData("""{"key":"k","start":"a","nodes":[{"id":"a","type":"forEach","items":"[1]","body":"nowhere"}]}""", "nodes[0].body", "'nowhere' is not among the nodes")]
    [InlineData("""{"key":"k","start":"input","nodes":[{"id":"input","type":"set","values":{}}]}""", "nodes[0].id", "reserved")]
    [InlineData("""{"key":"k","start":"my-node","nodes":[{"id":"my-node","type":"set","values":{}}]}""", "nodes[0].id", "identifier")]
    [InlineData("""{"key":"k","start":"f","nodes":[{"id":"f","type":"form","assignees":{"users":["u"]},"schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["b"]}}]}""", "nodes[0].schema.required", "'b'")]
    [InlineData("""{"key":"k","start":"f","nodes":[{"id":"f","type":"form","assignees":{"users":["u"]}}]}""", "nodes[0].schema", "JSON Schema")]
    [InlineData("""{"key":"k","start":"a","nodes":[{"id":"a","type":"approval","assignees":{"users":["u"]},"onExpire":"explode"}]}""", "nodes[0].onExpire", "expiry policy")]
    [InlineData("""{"key":"k","start":"h","nodes":[{"id":"h","type":"http","url":"http://x/{{ ) }}"}]}""", "nodes[0].url", "Unparsable")]
    [InlineData("""{"key":"k","start":"t","nodes":[{"id":"t","type":"toolCall","tools":[]}]}""", "nodes[0].tools", "non-empty")]
    [InlineData("""{"key":"k","start":"a","nodes":[]}""", "nodes", "non-empty")]
    [InlineData("""[1,2]""", "$", "JSON object")]
    [InlineData("""{"key":"k","start":"a","nodes":[1,{"id":"a","type":"wait"}]}""", "nodes[0]", "is an object")]
    [InlineData("""{"key":"k","start":"a","nodes":[{"id":"a","type":"wait","id":"b"}]}""", "nodes[0].id", "twice")]
    [InlineData("""{"key":"k","start":"a","nodes":[{"id":"a","type":"wait","title":"\ud800"}]}""", "nodes[0].title", "surrogate")]
    public void A_broken_definition_names_the_problem(string json, string path, string fragment)
    {
        var (definition, problems) = Parse(json);

        Assert.Null(definition);
        Assert.Contains(problems, p => p.Path == path && p.Message.Contains(fragment, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("http://127.0.0.1:{port}/schema.json")]
    [InlineData("http://127.0.0.1:{port}/schema.json#/definitions/x")]
    [InlineData("file:///etc/passwd")]
    public void A_form_schema_ref_outside_the_schema_is_a_problem_and_is_never_fetched(string target)
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var url = target.Replace("{port}", ((System.Net.IPEndPoint)listener.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
            var (definition, problems) = Parse("""
                {"key":"k","start":"f","nodes":[{"id":"f","type":"form","assignees":{"users":["u"]},
                 "schema":{"type":"object","properties":{"a":{"type":"string"},"b":{"$ref":"URL"}}}}]}
                """.Replace("URL", url, StringComparison.Ordinal));

            Assert.Null(definition);
            Assert.Contains(problems, p => p.Path == "nodes[0].schema.properties.b.$ref" && p.Message.Contains("inside the schema only", StringComparison.Ordinal));
            Assert.False(listener.Pending(), "the parser connected to the $ref's address");
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public void Nested_loops_each_own_their_body()
    {
        var (definition, problems) = Parse("""
            {"key":"nested","start":"outer",
             "nodes":[{"id":"outer","type":"forEach","items":"input.rows","body":"inner"},
                      {"id":"inner","type":"forEach","items":"item.cells","body":"ask"},
                      {"id":"ask","type":"wait"},
                      {"id":"after","type":"set","values":{"n":"inner.length"}}],
             "edges":[{"from":"inner","to":"after"}]}
            """);

        Assert.Empty(problems);
        Assert.Equal(["outer", "inner"], definition!.EnclosingLoops("ask"));
        Assert.Equal(["outer"], definition.EnclosingLoops("after"));
    }

    [Fact]
    public void Cycles_are_allowed_for_revise_loops()
    {
        var (definition, problems) = Parse("""
            {"key":"revise","start":"draft",
             "nodes":[{"id":"draft","type":"form","assignees":{"users":["u"]},"schema":{"type":"object","properties":{"text":{"type":"string"}}}},
                      {"id":"check","type":"approval","assignees":{"users":["m"]}}],
             "edges":[{"from":"draft","to":"check"},{"from":"check","to":"draft","when":"check.decision == 'Rejected'"}]}
            """);

        Assert.Empty(problems);
        Assert.NotNull(definition);
    }
}
