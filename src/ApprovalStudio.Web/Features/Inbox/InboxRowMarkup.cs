using System.Text;
using System.Text.Encodings.Web;
using ApprovalStudio.Web.Components.Shared;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace ApprovalStudio.Web.Features.Inbox;

/// <summary>
/// An inbox row's cells as HTML: the table's six cells, or the phone list's item. What the page's elements rendered
/// before (MudBlazor's icon, link and typography classes; a <c>time</c> with the whole date on hover), written once per
/// row and minute instead of kept as render frames in every open inbox (see <c>InboxPage.Cells</c>).
/// </summary>
public static class InboxRowMarkup
{
    private const string LinkClass = "mud-typography mud-link mud-primary-text mud-link-underline-hover mud-typography-body1";
    private const string IconClass = "mud-icon-root mud-svg-icon mud-inherit-text mud-icon-size-small";

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string Kind, bool Compact), MarkupString> Icons = new();

    /// <summary>
    /// The kind's icon, named for screen readers (what MudIcon renders with a title): one string per kind and layout for the
    /// whole process, apart from the row's own markup, so that the icon's path is not copied into every row of every inbox.
    /// </summary>
    public static MarkupString Icon(string kind, bool compact) => Icons.GetOrAdd((kind, compact), key =>
    {
        var html = new StringBuilder(640);
        KindIcon(html, key.Kind, key.Compact ? IconClass + " inbox-compact-icon" : IconClass);
        return new MarkupString(html.ToString());
    });

    /// <summary>The mark of an approval the viewer has voted on: it waits for the others (one string for the process).</summary>
    public static readonly MarkupString Voted = new(
        "<span class=\"inbox-voted\" data-testid=\"inbox-voted\" title=\"You voted; the approval waits for the others\">Voted</span>");

    /// <summary>The row's own markup: after the icon, the table's other five cells, or the phone list item's text.</summary>
    public static string Cells(InboxRow row, bool compact, DateTime now, BrowserClock clock)
    {
        var html = new StringBuilder(compact ? 512 : 768);
        if (compact)
        {
            html.Append("<div class=\"inbox-compact-text\"><a href=\"").Append(Encode(row.Href)).Append("\" class=\"").Append(LinkClass).Append(" inbox-compact-title\">")
                .Append(Encode(row.Title)).Append("</a><div class=\"inbox-compact-meta\">").Append(Encode(row.RequesterName)).Append(" · ");
            Deadline(html, row, ageWhenNone: true, now, clock);
            return html.Append("</div></div>").ToString();
        }

        html.Append("<td><a href=\"").Append(Encode(row.Href)).Append("\" class=\"").Append(LinkClass).Append("\">").Append(Encode(row.Title))
            .Append("</a></td><td>").Append(Encode(row.WorkflowName)).Append("</td><td>").Append(Encode(row.RequesterName)).Append("</td><td>");
        Time(html, row.CreatedAt, Durations.Ago(row.CreatedAt, now), clock);
        html.Append("</td><td>");
        Deadline(html, row, ageWhenNone: false, now, clock);
        return html.Append("</td>").ToString();
    }

    private static string IconOf(string kind) => kind switch
    {
        "Approval" => MudBlazor.Icons.Material.Filled.HowToVote,
        "UserForm" => MudBlazor.Icons.Material.Filled.EditNote,
        "Review" => MudBlazor.Icons.Material.Filled.Visibility,
        "ToolCall" => MudBlazor.Icons.Material.Filled.Build,
        _ => MudBlazor.Icons.Material.Filled.HourglassTop,
    };

    /// <summary>The kind's icon, named for screen readers (what MudIcon renders with a title).</summary>
    private static void KindIcon(StringBuilder html, string kind, string cssClass)
    {
        var name = Encode(KindNames.Of(kind));
        html.Append("<svg class=\"").Append(cssClass).Append("\" focusable=\"false\" viewBox=\"0 0 24 24\" role=\"img\" aria-label=\"").Append(name)
            .Append("\"><title>").Append(name).Append("</title>").Append(IconOf(kind)).Append("</svg>");
    }

    /// <summary>What the LocalTime component renders: the short text, and the whole date, zone and UTC on hover.</summary>
    private static void Time(StringBuilder html, DateTime at, string text, BrowserClock clock) =>
        html.Append("<time datetime=\"").Append(LocalTime.MachineReadable(at)).Append("\" title=\"").Append(Encode(clock.Full(at)))
            .Append("\" class=\"local-time\">").Append(Encode(text)).Append("</time>");

    /// <summary>The time left (or how long ago it was made, without a deadline), urgent ones marked by an icon and weight, not by colour alone.</summary>
    private static void Deadline(StringBuilder html, InboxRow row, bool ageWhenNone, DateTime now, BrowserClock clock)
    {
        if (row.ExpiresAt is { } expires)
        {
            var color = Durations.DeadlineColor(expires, now);
            html.Append(expires <= now ? "<span class=\"inbox-deadline overdue\">" : "<span class=\"inbox-deadline\">");
            if (color != Color.Default)
            {
                html.Append("<svg class=\"").Append(color == Color.Error ? "mud-icon-root mud-svg-icon mud-error-text" : "mud-icon-root mud-svg-icon mud-warning-text")
                    .Append("\" style=\"font-size:1rem\" focusable=\"false\" viewBox=\"0 0 24 24\" aria-hidden=\"true\">")
                    .Append(expires <= now ? MudBlazor.Icons.Material.Filled.Error : MudBlazor.Icons.Material.Filled.Schedule).Append("</svg>");
            }

            Time(html, expires, Durations.Left(expires, now), clock);
            html.Append("</span>");
        }
        else if (ageWhenNone)
        {
            Time(html, row.CreatedAt, Durations.Ago(row.CreatedAt, now), clock);
        }
        else
        {
            html.Append("<span title=\"No deadline\">—</span>");
        }
    }

    // Every script's letters as they are (the default encoder writes each non-ASCII one as an 8-character reference, which
    // would multiply a Japanese title's memory by the factor this class exists to save); markup characters still encoded.
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Create(System.Text.Unicode.UnicodeRanges.All);

    private static string Encode(string text) => Encoder.Encode(text);
}
