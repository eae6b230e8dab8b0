using System.Text;
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
            var own = node.Raw["title"]?.ToString();
            titles[id] = string.IsNullOrWhiteSpace(own) || own.Contains("{{", StringComparison.Ordinal) ? Humanise(id) : own;
        }

        foreach (var (nodeId, title) in taskTitles)
        {
            titles[nodeId] = title;
        }

        return titles;
    }

    public static string Of(IReadOnlyDictionary<string, string> titles, string? nodeId) =>
        nodeId is null ? string.Empty : titles.TryGetValue(nodeId, out var title) ? title : Humanise(nodeId);

    /// <summary>"book" → "Book", "place_order" and "placeOrder" → "Place order".</summary>
    public static string Humanise(string id)
    {
        var text = new StringBuilder(id.Length + 4);
        for (var i = 0; i < id.Length; i++)
        {
            var c = id[i];
            if (c is '_' or '-' or '.' or ' ')
            {
                if (text.Length > 0 && text[^1] != ' ')
                {
                    text.Append(' ');
                }

                continue;
            }

            if (char.IsUpper(c) && i > 0 && char.IsLower(id[i - 1]) && text.Length > 0 && text[^1] != ' ')
            {
                text.Append(' ');
            }

            text.Append(text.Length == 0 ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
        }

        return text.Length == 0 ? id : text.ToString().TrimEnd();
    }
}
