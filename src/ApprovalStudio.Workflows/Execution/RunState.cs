using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace ApprovalStudio.Workflows.Execution;

/// <summary>
/// Everything the engine needs to continue a run, serialised as JSON between steps. A run is a tree
/// of scopes: the top level, and one scope per iteration of each running forEach.
/// </summary>
public sealed class RunState
{
    /// <summary>
    /// The host's id of the run, not stored with the state (the host sets it on every step): it keys the
    /// <c>Idempotency-Key</c> an http node sends, so a step done again after a crash sends the same key.
    /// </summary>
    [JsonIgnore]
    public string? RunId { get; set; }

    public JsonNode? Input { get; set; }
    public Scope Root { get; set; } = new();
    public JsonArray Transcript { get; set; } = [];

    /// <summary>Node runs so far, across every step: a bound on endless cycles.</summary>
    public int Steps { get; set; }

    public string Serialize() => JsonSerializer.Serialize(this, Json.Options);

    public static RunState Deserialize(string json) =>
        JsonSerializer.Deserialize<RunState>(json, Json.Options) ?? throw new JsonException("Empty run state.");

    /// <summary>The scope a stack addresses, or null when that iteration is not running.</summary>
    public Scope? Find(IReadOnlyList<StackFrame> stack)
    {
        var scope = Root;
        foreach (var frame in stack)
        {
            if (!scope.Loops.TryGetValue(frame.ParentNodeId, out var loop) || frame.Index < 0 || frame.Index >= loop.Iterations.Count)
            {
                return null;
            }

            scope = loop.Iterations[frame.Index];
        }

        return scope;
    }
}

public sealed class Scope
{
    /// <summary>Outputs of the nodes completed in this scope, by node id.</summary>
    public Dictionary<string, JsonNode?> Outputs { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Nodes whose incoming edge fired and that have not run yet, in order.</summary>
    public List<string> Ready { get; set; } = [];

    /// <summary>Nodes suspended in this scope and since when.</summary>
    public Dictionary<string, DateTimeOffset> Waiting { get; set; } = new(StringComparer.Ordinal);

    /// <summary>forEach nodes of this scope whose iterations are under way.</summary>
    public Dictionary<string, LoopState> Loops { get; set; } = new(StringComparer.Ordinal);

    public string? LastNodeId { get; set; }
    public JsonNode? LastOutput { get; set; }

    [JsonIgnore]
    public bool IsIdle => Ready.Count == 0 && Waiting.Count == 0 && Loops.Count == 0;
}

public sealed class LoopState
{
    public JsonArray Items { get; set; } = [];
    public List<Scope> Iterations { get; set; } = [];
    public DateTimeOffset StartedAt { get; set; }
}

/// <summary>One level of forEach nesting: which loop, which iteration, of how many (CONTRACT §3).</summary>
public sealed record StackFrame(string ParentNodeId, int Index, int Total)
{
    /// <summary>A stable text form of a stack, for indexes and lookups: <c>outer:2/inner:0</c>.</summary>
    public static string Key(IReadOnlyList<StackFrame> stack) =>
        string.Join('/', stack.Select(f => $"{f.ParentNodeId}:{f.Index}"));
}

internal static class Json
{
    // A state nests its outputs under scopes and loops (seven levels a forEach); the default of 64 refused the state
    // of a run whose node output was 62 levels deep, and every retry of the step failed the same way.
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { MaxDepth = 256 };
}
