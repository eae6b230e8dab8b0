using System.Collections.Concurrent;
using System.Numerics;
using System.Text;
using System.Text.Json.Nodes;
using Acornima.Ast;
using Jint;
using Jint.Native;
using Jint.Native.Json;

namespace ApprovalStudio.Workflows.Expressions;

/// <summary>
/// Evaluates the JavaScript expressions of definitions (edge conditions, forEach items, set values,
/// placeholders) in a sandboxed Jint engine: no CLR access, strict mode, and limits on time,
/// memory, statements and recursion so that a definition cannot hang or exhaust the worker. Jint checks memory
/// between statements, so the built-ins that can build a long string or array in one call are checked before they
/// do (<see cref="SandboxBuiltins"/>), and the value's JSON is held to <see cref="ExpressionLimits.MaxResultBytes"/>.
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
            return SandboxSyntax.Check(Engine.PrepareScript(Wrap(expression)).Program, Wrap(expression)).Problem;
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
        var engine = new Engine(o =>
        {
            o.Strict()
                .LimitMemory(Limits.MaxMemoryBytes)
                .TimeoutInterval(Limits.Timeout)
                .MaxStatements(Limits.MaxStatements)
                .LimitRecursion(Limits.MaxRecursion);
            o.Constraints.MaxArraySize = (uint)Limits.MaxArrayLength;
            // A regular expression runs inside one call, where the statement timeout is not checked: it gets the same budget.
            o.Constraints.RegexTimeout = Limits.Timeout;
            // eval and new Function: not needed by an expression, and Function(...args) joins its arguments unchecked.
            o.Host.StringCompilationAllowed = false;
        });
        try
        {
            var builtins = SandboxBuiltins.Install(engine, Limits);
            var parser = new JsonParser(engine);
            foreach (var (name, value) in context)
            {
                engine.SetValue(name, value is null ? JsValue.Null : parser.Parse(value.ToJsonString()));
            }

            var result = engine.Evaluate(script);
            var json = builtins.ToJson(result, Limits.MaxResultBytes);
            if (json is null)
            {
                return null;
            }

            var bytes = Encoding.UTF8.GetByteCount(json);
            if (bytes > Limits.MaxResultBytes)
            {
                throw new ExpressionException(expression, $"The value as JSON is {ByteSize.OverLimit(bytes, Limits.MaxResultBytes)}.");
            }

            return JsonNode.Parse(json);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException and not ExpressionException)
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
            var (problem, guarded) = SandboxSyntax.Check(script.Program, Wrap(expression));
            if (problem is not null)
            {
                throw new ExpressionException(expression, problem);
            }

            if (guarded is not null)
            {
                script = Engine.PrepareScript(guarded);
            }
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
    private readonly int? _maxStringLength;
    private readonly int? _maxArrayLength;

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>What one evaluation may allocate; Jint measures it between statements.</summary>
    public long MaxMemoryBytes { get; init; } = 8_000_000;

    public int MaxStatements { get; init; } = 10_000;
    public int MaxRecursion { get; init; } = 64;

    /// <summary>
    /// The longest string one built-in call may build, refused before it is built. By default an eighth of
    /// <see cref="MaxMemoryBytes"/> in characters (two bytes each, so a quarter of the budget): 1,000,000.
    /// </summary>
    public int MaxStringLength
    {
        get => _maxStringLength ?? (int)Math.Clamp(MaxMemoryBytes / 8, 1, int.MaxValue);
        init => _maxStringLength = value;
    }

    /// <summary>
    /// The longest array (or array-like, or list of a string's characters) one call may make or work through. By
    /// default <see cref="MaxMemoryBytes"/> / 64 (a slot and a small value each) rounded up to a power of two,
    /// 131,072: Jint holds the capacity it grows an array to (a power of two) to this limit, so a limit between
    /// two powers acts as the lower one.
    /// </summary>
    public int MaxArrayLength
    {
        get => _maxArrayLength ?? (int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(MaxMemoryBytes / 64, 1, 1 << 30));
        init => _maxArrayLength = value;
    }

    /// <summary>The largest value an expression may yield, as UTF-8 JSON; a larger one fails the expression.</summary>
    public int MaxResultBytes { get; init; } = 1024 * 1024;
}

public sealed class ExpressionException(string expression, string message, Exception? inner = null)
    : Exception($"Expression '{expression}' failed: {message}", inner)
{
    public string Expression { get; } = expression;
}
