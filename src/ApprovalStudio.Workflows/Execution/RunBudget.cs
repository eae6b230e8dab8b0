using System.Text.Json.Nodes;

namespace ApprovalStudio.Workflows.Execution;

/// <summary>
/// The sizes one step of a run works with, as stored (UTF-8 JSON): the run state's, measured at the start of the step
/// and followed from there by what each change adds (measured again only when that estimate passes the limit), and
/// the node outputs the step records. Each output is measured once; the copies the state keeps are known by reference.
/// </summary>
internal sealed class RunBudget(RunState state)
{
    private readonly Dictionary<JsonNode, long> _sizes = new(ReferenceEqualityComparer.Instance);
    private long _grown;

    public long StateBytes { get; private set; } = JsonSize.Of(state);

    public long RecordedBytes { get; private set; }

    /// <summary>The stored size of <paramref name="node"/> (<c>null</c> is 4 bytes).</summary>
    public long Size(JsonNode? node)
    {
        if (node is null)
        {
            return 4;
        }

        if (!_sizes.TryGetValue(node, out var size))
        {
            size = JsonSize.Of(node);
            _sizes[node] = size;
        }

        return size;
    }

    /// <summary><paramref name="node"/>, whose size is known to be <paramref name="size"/>.</summary>
    public JsonNode? Sized(JsonNode? node, long size)
    {
        if (node is not null)
        {
            _sizes[node] = size;
        }

        return node;
    }

    /// <summary>Null when the state may grow by <paramref name="bytes"/> within <paramref name="limit"/>; else the size it would reach.</summary>
    public long? Grow(long bytes, long limit)
    {
        if (StateBytes + _grown + bytes > limit)
        {
            StateBytes = JsonSize.Of(state);
            _grown = 0;
            if (StateBytes + bytes > limit)
            {
                return StateBytes + bytes;
            }
        }

        _grown += bytes;
        return null;
    }

    /// <summary>Whether the step may record <paramref name="bytes"/> more of node outputs within <paramref name="limit"/>.</summary>
    public bool Record(long bytes, long limit)
    {
        if (RecordedBytes + bytes > limit)
        {
            return false;
        }

        RecordedBytes += bytes;
        return true;
    }
}
