using System.Text.Json.Nodes;
using ApprovalStudio.Workflows.Expressions;

namespace ApprovalStudio.Workflows.Tests.Expressions;

public sealed class ExpressionEvaluatorTests
{
    private readonly ExpressionEvaluator _evaluator = new(new ExpressionLimits { Timeout = TimeSpan.FromMilliseconds(500) });

    private static JsonObject Context(string json) => (JsonObject)JsonNode.Parse(json)!;

    [Fact]
    public void Expressions_read_the_context_and_yield_json()
    {
        var value = _evaluator.Evaluate("input.items.map(i => i.price * i.qty).reduce((a, b) => a + b, 0)",
            Context("""{"input":{"items":[{"price":2,"qty":3},{"price":5,"qty":1}]}}"""));

        Assert.Equal(11, value!.GetValue<double>());
    }

    [Theory]
    [InlineData("while(true){}")]
    [InlineData("(function f(){ return f(); })()")]
    [InlineData("Array(1e9).fill('x').join('')")]
    public void Runaway_expressions_are_stopped_by_the_sandbox(string expression)
    {
        var body = expression.StartsWith("while", StringComparison.Ordinal) ? "(() => { " + expression + " })()" : expression;

        Assert.Throws<ExpressionException>(() => _evaluator.Evaluate(body, []));
    }

    [Theory]
    [InlineData("System.IO.File.ReadAllText('/etc/passwd')")]
    [InlineData("importNamespace('System')")]
    [InlineData("require('fs')")]
    public void Expressions_cannot_reach_the_host(string expression) =>
        Assert.Throws<ExpressionException>(() => _evaluator.Evaluate(expression, []));

    [Fact]
    public void A_catastrophic_regular_expression_gets_the_expression_timeout_not_jints_own_ten_seconds()
    {
        var failure = Assert.Throws<ExpressionException>(() => _evaluator.Evaluate("/(a+)+$/.test('a'.repeat(28) + 'b')", []));

        var timeout = Assert.IsType<System.Text.RegularExpressions.RegexMatchTimeoutException>(Innermost(failure));
        Assert.Equal(TimeSpan.FromMilliseconds(500), timeout.MatchTimeout);
    }

    private static Exception Innermost(Exception e) => e.InnerException is null ? e : Innermost(e.InnerException);

    [Fact]
    public void A_statement_list_is_not_an_expression() =>
        Assert.NotNull(ExpressionEvaluator.SyntaxError("a = 1; b = 2"));

    [Theory]
    [InlineData("0", false)]
    [InlineData("''", false)]
    [InlineData("null", false)]
    [InlineData("undefined", false)]
    [InlineData("'x'", true)]
    [InlineData("[]", true)]
    [InlineData("2 > 1", true)]
    public void Conditions_follow_javascript_truthiness(string expression, bool expected) =>
        Assert.Equal(expected, _evaluator.IsTrue(expression, []));

    [Fact]
    public void Templates_interpolate_text_and_keep_the_type_of_a_lone_placeholder()
    {
        var context = Context("""{"input":{"n":3,"tags":["a","b"]}}""");

        Assert.Equal("n is 3, tags [\"a\",\"b\"]", Template.RenderText("n is {{ input.n }}, tags {{input.tags}}", _evaluator, context));
        Assert.Equal("""{"count":3,"label":"#3","list":["a","b"]}""",
            Template.Render(JsonNode.Parse("""{"count":"{{input.n}}","label":"#{{input.n}}","list":"{{ input.tags }}"}"""), _evaluator, context)!.ToJsonString());
    }
}
