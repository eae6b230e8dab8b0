using System.Text;
using Acornima;
using Acornima.Ast;

namespace ApprovalStudio.Workflows.Expressions;

/// <summary>
/// Syntax that copies a string character by character into an object, which no built-in can check: Jint lists a
/// property per character first (<c>({...'x'.repeat(1e6)})</c> allocated 229 MB over 5 s, <c>for (k in s)</c> 81 MB).
/// An object spread's argument and a for-in's object are rewritten to pass through <see cref="Guard"/>, which refuses
/// a string longer than MaxArrayLength and returns anything else as it is. A rest property in an object pattern
/// (<c>({...rest}) =&gt; rest</c>) copies what it is given before anything could look at it, so it is not allowed.
/// </summary>
internal sealed class SandboxSyntax : AstVisitor
{
    /// <summary>The global the rewritten code calls; an expression may not name it.</summary>
    public const string Guard = "__sandbox_enumerable__";

    private readonly List<(int Start, int End)> _guarded = [];
    private string? _problem;

    /// <summary>
    /// What is wrong with <paramref name="program"/> (null when nothing), and its <paramref name="source"/> with the
    /// guards in (null when it needs none).
    /// </summary>
    public static (string? Problem, string? Guarded) Check(Script? program, string source)
    {
        var syntax = new SandboxSyntax();
        if (program is not null)
        {
            syntax.Visit(program);
        }

        if (syntax._problem is not null || syntax._guarded.Count == 0)
        {
            return (syntax._problem, null);
        }

        // From the end, so that earlier positions hold; where one guarded part ends and another starts, the start goes in first.
        var text = new StringBuilder(source);
        foreach (var (at, insert) in syntax._guarded
            .SelectMany(g => new[] { (At: g.End, Text: ")"), (At: g.Start, Text: Guard + "(") })
            .OrderByDescending(p => p.At).ThenBy(p => p.Text == ")"))
        {
            text.Insert(at, insert);
        }

        return (null, text.ToString());
    }

    protected override object? VisitObjectExpression(ObjectExpression node)
    {
        foreach (var property in node.Properties)
        {
            if (property is SpreadElement spread)
            {
                _guarded.Add((spread.Argument.Start, spread.Argument.End));
            }
        }

        return base.VisitObjectExpression(node);
    }

    protected override object? VisitForInStatement(ForInStatement node)
    {
        _guarded.Add((node.Right.Start, node.Right.End));
        return base.VisitForInStatement(node);
    }

    protected override object? VisitObjectPattern(ObjectPattern node)
    {
        foreach (var property in node.Properties)
        {
            if (property is RestElement)
            {
                _problem ??= "a rest property in an object pattern ({...rest}) is not allowed in an expression: it copies a string character by character before its length can be checked";
            }
        }

        return base.VisitObjectPattern(node);
    }

    protected override object? VisitIdentifier(Identifier node)
    {
        if (node.Name == Guard)
        {
            _problem ??= $"'{Guard}' is reserved";
        }

        return base.VisitIdentifier(node);
    }
}
