using System.Text.Json.Nodes;
using ApprovalStudio.Workflows.Definitions;
using ApprovalStudio.Workflows.Resumption;

namespace ApprovalStudio.Workflows.Tests.Resumption;

public sealed class ResponseValidatorTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private static readonly WorkflowDefinition Definition = DefinitionParser.ParseOrThrow("""
        {"key":"k","start":"a",
         "nodes":[{"id":"a","type":"approval","assignees":{"users":["u"]},"requireCommentOnReject":true},
                  {"id":"r","type":"review","assignees":{"users":["u"]}},
                  {"id":"f","type":"form","assignees":{"users":["u"]},"schema":{"type":"object","required":["employeeName","startDate"],"properties":{
                     "employeeName":{"type":"string","title":"Employee name","minLength":2},
                     "startDate":{"type":"string","format":"date"},
                     "salary":{"type":"integer","minimum":0,"maximum":1000000},
                     "department":{"type":"string","enum":["Engineering","Sales"]},
                     "code":{"type":"string","pattern":"^[A-Z]{3}$"},
                     "remote":{"type":"boolean"}}}}],
         "edges":[{"from":"a","to":"r"},{"from":"r","to":"f"}]}
        """);

    private static ResponseCheck Check(string nodeId, string json) =>
        ResponseValidator.Check((WaitingNodeDefinition)Definition.Node(nodeId), JsonNode.Parse(json), "ann", At);

    [Fact]
    public void An_approval_becomes_decision_comment_actor_and_time()
    {
        var check = Check("a", """{"decision":"Approved","comment":"fine"}""");

        Assert.True(check.IsValid);
        Assert.Equal("""{"decision":"Approved","comment":"fine","actor":"ann","at":"2026-11-23T10:00:00+00:00"}""", check.Output!.ToJsonString());
    }

    [Fact]
    public void Request_changes_is_taken_only_by_an_approval_that_routes_it_and_only_with_a_comment()
    {
        var definition = DefinitionParser.ParseOrThrow("""
            {"key":"k","start":"a",
             "nodes":[{"id":"a","type":"approval","assignees":{"users":["u"]}},
                      {"id":"fix","type":"review","assignees":{"users":["u"]}},
                      {"id":"b","type":"approval","assignees":{"users":["u"]}}],
             "edges":[{"from":"a","to":"fix","when":"a.decision == 'RequestChanges'"},{"from":"fix","to":"b"}]}
            """);
        var routes = (ApprovalNode)definition.Node("a");
        var plain = (ApprovalNode)definition.Node("b");
        Assert.True(routes.TakesRequestChanges);
        Assert.False(plain.TakesRequestChanges);

        var taken = ResponseValidator.Check(routes, JsonNode.Parse("""{"decision":"RequestChanges","comment":"add the receipt"}"""), "ann", At);
        Assert.True(taken.IsValid);
        Assert.Equal("RequestChanges", (string?)taken.Output!["decision"]);
        Assert.Equal("add the receipt", (string?)taken.Output["comment"]);

        var bare = ResponseValidator.Check(routes, JsonNode.Parse("""{"decision":"RequestChanges"}"""), "ann", At);
        Assert.Contains("say what to change", Assert.Single(bare.Errors["comment"]));

        var nowhere = ResponseValidator.Check(plain, JsonNode.Parse("""{"decision":"RequestChanges","comment":"x"}"""), "ann", At);
        Assert.Contains("does not take RequestChanges", Assert.Single(nowhere.Errors["decision"]));
        Assert.Contains("\"RequestChanges\"", Assert.Single(ResponseValidator.Check(routes, JsonNode.Parse("""{"decision":"Maybe"}"""), "ann", At).Errors["decision"]));
    }

    [Theory]
    [InlineData("""{}""", "decision")]
    [InlineData("""{"decision":"Maybe"}""", "decision")]
    [InlineData("""{"decision":true}""", "decision")]
    [InlineData("""{"decision":"Rejected"}""", "comment")]
    [InlineData("""{"decision":"Rejected","comment":"   "}""", "comment")]
    [InlineData("""{"decision":"Approved","comment":42}""", "comment")]
    [InlineData("""[]""", "$")]
    public void A_bad_approval_names_the_field(string json, string field)
    {
        var check = Check("a", json);

        Assert.False(check.IsValid);
        Assert.Null(check.Output);
        Assert.True(check.Errors.ContainsKey(field), $"errors: {string.Join(", ", check.Errors.Keys)}");
    }

    [Theory]
    [InlineData("""{"acknowledged":true,"comment":"ok"}""", true)]
    [InlineData("""{"acknowledged":false}""", false)]
    [InlineData("""{"acknowledged":"yes"}""", false)]
    [InlineData("""{}""", false)]
    public void A_review_must_be_acknowledged(string json, bool valid)
    {
        var check = Check("r", json);

        Assert.Equal(valid, check.IsValid);
        Assert.Equal(valid, !check.Errors.ContainsKey("acknowledged"));
    }

    [Fact]
    public void A_valid_form_answer_is_the_node_output()
    {
        var check = Check("f", """{"employeeName":"Jane Doe","startDate":"2026-06-01","salary":90000,"department":"Engineering","code":"ABC","remote":true}""");

        Assert.True(check.IsValid, string.Join("; ", check.Errors.SelectMany(e => e.Value)));
        Assert.Equal(90000, check.Output!["salary"]!.GetValue<int>());
    }

    [Fact]
    public void Every_bad_form_field_is_named_with_a_readable_message()
    {
        var check = Check("f", """{"employeeName":"J","salary":"a lot","department":"Legal","code":"abcd","remote":"no"}""");

        Assert.False(check.IsValid);
        Assert.Equal(["code", "department", "employeeName", "remote", "salary", "startDate"], check.Errors.Keys.Order());
        Assert.Contains("Employee name must have at least 2 characters.", check.Errors["employeeName"]);
        Assert.Contains("startDate is required.", check.Errors["startDate"]);
        Assert.Contains("salary must be a whole number.", check.Errors["salary"]);
        Assert.Contains(check.Errors["department"], m => m.Contains("\"Engineering\""));
    }

    [Theory]
    [InlineData("""{"employeeName":"Jane","startDate":"2026-06-01","salary":-1}""", "salary")]
    [InlineData("""{"employeeName":"Jane","startDate":"2026-06-01","salary":2000000}""", "salary")]
    [InlineData("""{"employeeName":"Jane","startDate":"2026-06-01","salary":1.5}""", "salary")]
    [InlineData("""{"employeeName":"Jane","startDate":"first of June"}""", "startDate")]
    [InlineData("""{"employeeName":"Jane","startDate":"2026-06-01","salary":9223372036854775808}""", "salary")]
    [InlineData("""{"employeeName":-123456789012345678901234567890,"startDate":"2026-06-01"}""", "employeeName")]
    [InlineData("""{"employeeName":"Jane","startDate":"2026-06-01","extra":[1,{"n":18446744073709551616}]}""", "extra[1].n")]
    public void Bounds_types_and_formats_are_checked(string json, string field)
    {
        var check = Check("f", json);

        Assert.Equal([field], check.Errors.Keys);
    }
}
