using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Acornima.Ast;
using Jint;
using Jint.Native;
using Jint.Native.Json;

namespace ApprovalStudio.Workflows.Expressions;

/// <summary>
/// Evaluates the JavaScript expressions of definitions (edge conditions, forEach items, set values,
/// placeholders) in a sandboxed Jint engine: no CLR access, strict mode, and limits on time,
/// memory, statements and recursion so that a definition cannot hang or exhaust the worker.
/// </summary>
public sealed class ExpressionEvaluator
{
    private const int MaxCachedScripts = 10_000;
    private readonly ConcurrentDictionary<string, Prepared<Script>> _prepared = new(StringComparer.Ordinal);

    public ExpressionLimits Limits { get; }

    public ExpressionEvaluator(ExpressionLimits? limits = null) => Limits = limits ?? new ExpressionLimits();

    /// <summary>Null when <paramref name="expression"/> parses as one JavaScript expression, else why not.</summary>
    public static string? SyntaxError(string expression)
    {
        if (string.IsNullOrWhiteSpace(expression))
        {
            return "is empty";
        }

        try
        {
            Engine.PrepareScript(Wrap(expression));
            return null;
        }
        catch (ScriptPreparationException ex)
        {
            return ex.InnerException?.Message ?? ex.Message;
        }
    }

    /// <summary>Evaluates <paramref name="expression"/> with every property of <paramref name="context"/> as a global.</summary>
    public JsonNode? Evaluate(string expression, JsonObject context)
    {
        var script = Prepare(expression);
        var engine = new Engine(o => o
            .Strict()
            .LimitMemory(Limits.MaxMemoryBytes)
            .TimeoutInterval(Limits.Timeout)
            .MaxStatements(Limits.MaxStatements)
            .LimitRecursion(Limits.MaxRecursion));
        try
        {
            var parser = new JsonParser(engine);
            foreach (var (name, value) in context)
            {
                engine.SetValue(name, value is null ? JsValue.Null : parser.Parse(value.ToJsonString()));
            }

            var result = engine.Evaluate(script);
            var json = new JsonSerializer(engine).Serialize(result);
            return json.IsUndefined() || json.IsNull() ? null : JsonNode.Parse(json.AsString());
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new ExpressionException(expression, ex.Message, ex);
        }
    }

    /// <summary>JavaScript truthiness of the expression's value.</summary>
    public bool IsTrue(string expression, JsonObject context) => Evaluate(expression, context) switch
    {
        null => false,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        JsonValue v when v.TryGetValue<double>(out var d) => d != 0 && !double.IsNaN(d),
        JsonValue v when v.TryGetValue<string>(out var s) => s.Length > 0,
        _ => true,
    };

    private Prepared<Script> Prepare(string expression)
    {
        if (_prepared.TryGetValue(expression, out var cached))
        {
            return cached;
        }

        Prepared<Script> script;
        try
        {
            script = Engine.PrepareScript(Wrap(expression));
        }
        catch (ScriptPreparationException ex)
        {
            throw new ExpressionException(expression, ex.InnerException?.Message ?? ex.Message, ex);
        }

        if (_prepared.Count < MaxCachedScripts)
        {
            _prepared.TryAdd(expression, script);
        }

        return script;
    }

    // Parenthesised so that an expression cannot be a statement list ("a; b") or a declaration.
    private static string Wrap(string expression) => "(" + expression + "\n)";
}

public sealed record ExpressionLimits
{
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);
    public long MaxMemoryBytes { get; init; } = 8_000_000;
    public int MaxStatements { get; init; } = 10_000;
    public int MaxRecursion { get; init; } = 64;
}

public sealed class ExpressionException(string expression, string message, Exception? inner = null)
    : Exception($"Expression '{expression}' failed: {message}", inner)
{
    public string Expression { get; } = expression;
}
