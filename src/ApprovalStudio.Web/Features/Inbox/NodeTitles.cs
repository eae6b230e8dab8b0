using ApprovalStudio.Workflows.Definitions;

namespace ApprovalStudio.Web.Features.Inbox;

/// <summary>
/// What a page calls a node: the title of its task in this run (rendered, "Approve 90 EUR"), else its own
/// title when that is plain text, else its id made readable ("place_order" → "Place order").
/// </summary>
public static class NodeTitles
{
    public static IReadOnlyDictionary<string, string> For(WorkflowDefinition definition, IEnumerable<(string NodeId, string Title)> taskTitles)
    {
        var titles = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (id, node) in definition.Nodes)
        {
            // The title as written, unless it is empty, the id itself, or has placeholders (they need a run to read well).
            var own = node.Raw["title"]?.ToString();
            titles[id] = string.IsNullOrWhiteSpace(own) || own == id || own.Contains("{{", StringComparison.Ordinal) ? PlainWords.Humanize(id) : own;
        }

        foreach (var (nodeId, title) in taskTitles)
        {
            titles[nodeId] = title;
        }

        return titles;
    }

    public static string Of(IReadOnlyDictionary<string, string> titles, string? nodeId) =>
        nodeId is null ? string.Empty : titles.TryGetValue(nodeId, out var title) ? title : PlainWords.Humanize(nodeId);
}
