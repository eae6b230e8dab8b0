using System.Globalization;
using ApprovalStudio.Web.Components.Shared;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Workflows.Execution;
using Microsoft.AspNetCore.Components;

namespace ApprovalStudio.Web.Features.Inbox;

public sealed partial class Timeline
{
    private static readonly (string Status, string Color)[] Legend =
        [
            (nameof(NodeRunStatus.Completed), "#2e7d32"), (nameof(NodeRunStatus.Failed), "#c62828"),
            (nameof(NodeRunStatus.Waiting), "#ef8f00"), (nameof(NodeRunStatus.Running), "#1e88e5"),
        ];

    [Parameter, EditorRequired]
    public IReadOnlyList<NodeRunEntity> Nodes { get; set; } = [];

    [Parameter]
    public DateTime Now { get; set; }

    private static string Fill(string status) => Legend.FirstOrDefault(l => l.Status == status).Color ?? "#757575";

    /// <summary>What a node run is called (its title, with its loop iteration); its id in words when not given.</summary>
    [Parameter]
    public Func<NodeRunEntity, string>? Label { get; set; }

    [CascadingParameter]
    private BrowserChoices? Browser { get; set; }

    private string Title(NodeRunEntity row) => Label?.Invoke(row) ?? PlainWords.Humanize(row.NodeId);

    private static string Short(string text) => text.Length > 26 ? text[..25] + "…" : text;

    /// <summary>An axis time in the viewer's zone (UTC, and saying so, until the browser told us its zone).</summary>
    private string Clock(DateTime utc)
    {
        var clock = Browser?.Clock ?? BrowserClock.Utc;
        return clock.ToLocal(utc).ToString("HH:mm:ss", CultureInfo.InvariantCulture) + (clock.Known ? "" : " UTC");
    }
}
