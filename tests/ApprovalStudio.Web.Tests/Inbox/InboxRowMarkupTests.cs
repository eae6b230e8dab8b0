using ApprovalStudio.Web.Components.Shared;
using ApprovalStudio.Web.Features.Inbox;

namespace ApprovalStudio.Web.Tests.Inbox;

/// <summary>A row written as markup: what people typed stays text (titles, names and workflow names come from requesters and definitions).</summary>
public sealed class InboxRowMarkupTests
{
    private static readonly DateTime Now = new(2026, 12, 2, 12, 0, 0, DateTimeKind.Utc);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Titles_names_and_workflow_names_are_text_never_markup_and_any_script_keeps_its_letters(bool compact)
    {
        var row = new InboxRow("res\"<1>", "run", "wf", "Approval", """<script>alert("x")</script> & <b>bold</b>""", "jdoe", Now.AddMinutes(-5), Now.AddHours(1))
        {
            RequesterName = "Jane \"J\" <Doe>",
            WorkflowName = "経費精算 <i>",
        };

        var html = InboxRowMarkup.Cells(row, compact, Now, BrowserClock.Utc);

        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<b>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<i>", html, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;", html, StringComparison.Ordinal);
        Assert.Contains("Jane &quot;J&quot; &lt;Doe&gt;", html, StringComparison.Ordinal);
        Assert.Contains("href=\"/tasks/res&quot;&lt;1&gt;\"", html, StringComparison.Ordinal); // an attribute cannot be closed early
        if (!compact)
        {
            Assert.Contains("経費精算 &lt;i&gt;", html, StringComparison.Ordinal); // letters as they are, not 8-character references
        }
    }

    [Fact]
    public void The_kinds_icon_is_one_string_for_the_whole_process_and_names_the_kind()
    {
        var first = InboxRowMarkup.Icon("UserForm", compact: false);
        var again = InboxRowMarkup.Icon("UserForm", compact: false);

        Assert.Same(first.Value, again.Value);
        Assert.Contains("aria-label=\"Form\"", first.Value, StringComparison.Ordinal);
        Assert.Contains("<title>Form</title>", first.Value, StringComparison.Ordinal);
    }
}
