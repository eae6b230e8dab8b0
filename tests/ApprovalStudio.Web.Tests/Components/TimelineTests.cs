using ApprovalStudio.Web.Features.Inbox;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Bunit;
using MudBlazor;

namespace ApprovalStudio.Web.Tests.Components;

public sealed class TimelineTests : MudTestContext
{
    private static readonly DateTime T0 = new(2026, 11, 23, 9, 0, 0, DateTimeKind.Utc);

    private static NodeRunEntity Run(string id, string status, int fromSeconds, int? toSeconds, string stack = "") => new()
    {
        ExecutionId = "x", NodeId = id, NodeType = "set", StackKey = stack, StackJson = "[]", Status = status,
        StartedAt = T0.AddSeconds(fromSeconds), CompletedAt = toSeconds is null ? null : T0.AddSeconds(toSeconds.Value),
    };

    [Fact]
    public void The_timeline_draws_one_bar_per_node_run_on_a_shared_axis_coloured_by_status()
    {
        var timeline = Render<Timeline>(p => p
            .Add(c => c.Nodes, [Run("a", "Completed", 0, 10), Run("b", "Failed", 10, 20), Run("ask", "Waiting", 20, null, "loop:1")])
            .Add(c => c.Now, T0.AddSeconds(40)));

        var bars = timeline.FindAll("rect");
        Assert.Equal(3, bars.Count);
        Assert.Equal(["#2e7d32", "#c62828", "#ef8f00"], bars.Select(b => b.GetAttribute("fill")));
        Assert.Equal(["180.0", "330.0", "480.0"], bars.Select(b => b.GetAttribute("x")));
        Assert.Equal("300.0", bars[2].GetAttribute("width"));
        Assert.Contains(">Ask</text>", timeline.Markup); // node ids in words when the page gives no title
        Assert.DoesNotContain("loop:1", timeline.Markup);
        Assert.Equal("Timeline of 3 node runs", timeline.Find("svg").GetAttribute("aria-label"));
    }

    [Fact]
    public void The_timeline_shows_the_titles_the_page_gives_it_and_the_axis_in_the_viewers_zone()
    {
        var timeline = Render<Timeline>(p => p
            .Add(c => c.Nodes, [Run("a", "Completed", 0, 10), Run("ask", "Waiting", 10, null, "loop:1")])
            .Add(c => c.Now, T0.AddSeconds(40))
            .Add(c => c.Label, r => r.NodeId == "ask" ? "Approve 120 EUR for Jane (item 2 of 3)" : "Prepare")
            .AddCascadingValue(ApprovalStudio.Web.Components.Shared.BrowserChoices.None with { Clock = new ApprovalStudio.Web.Components.Shared.BrowserClock("Europe/Berlin") }));

        Assert.Contains(">Prepare</text>", timeline.Markup);
        Assert.Contains(">Approve 120 EUR for Jane …</text>", timeline.Markup);
        Assert.Equal("Approve 120 EUR for Jane (item 2 of 3) (Set values) Waiting, <1 min", timeline.Find("g:nth-of-type(2) title").TextContent);
        Assert.Contains(">10:00:00</text>", timeline.Markup);
        Assert.Contains(">10:00:40</text>", timeline.Markup);
    }

    [Theory]
    [InlineData("manager", "Manager")]
    [InlineData("send-invoice", "Send invoice")]
    [InlineData("send_invoice", "Send invoice")]
    [InlineData("sendInvoice", "Send invoice")]
    [InlineData("callHTTPService2", "Call HTTP service 2")]
    public void Node_ids_read_as_words(string id, string words) => Assert.Equal(words, PlainWords.Humanize(id));

    [Fact]
    public void Answers_read_in_plain_words()
    {
        Assert.Equal("Approved: looks right", PlainWords.Answer("Approval", System.Text.Json.Nodes.JsonNode.Parse("""{"decision":"Approved","comment":"looks right","actor":"ann","at":"2026-11-23T09:00:00Z"}""")));
        Assert.Equal("Rejected", PlainWords.Answer("Approval", System.Text.Json.Nodes.JsonNode.Parse("""{"decision":"Rejected","comment":null,"actor":"ann"}""")));
        Assert.Equal("Changes requested: add the receipt",
            PlainWords.Answer("Approval", System.Text.Json.Nodes.JsonNode.Parse("""{"decision":"RequestChanges","comment":"add the receipt","actor":"ann"}""")));
        Assert.Equal("Acknowledged", PlainWords.Answer("Review", System.Text.Json.Nodes.JsonNode.Parse("""{"acknowledged":true,"comment":null}""")));
        Assert.Equal("Start date: 2026-06-01, Remote: yes, Salary: 52000",
            PlainWords.Answer("UserForm", System.Text.Json.Nodes.JsonNode.Parse("""{"startDate":"2026-06-01","remote":true,"salary":52000}""")));
        Assert.Equal("item 2 of 3 › item 1 of 4", PlainWords.Iteration("""[{"parentNodeId":"rows","index":1,"total":3},{"parentNodeId":"cells","index":0,"total":4}]""", "rows:1/cells:0"));
        Assert.Equal("Email link", PlainWords.Channel("email"));
    }

    [Theory]
    [InlineData(-30, "overdue 30 min", Color.Error)]
    [InlineData(90, "1 h left", Color.Warning)]
    [InlineData(60 * 30, "30 h left", Color.Default)]
    [InlineData(60 * 24 * 3, "3 d left", Color.Default)]
    public void Deadlines_read_as_time_left_and_turn_to_warning_then_error(int minutes, string text, Color color)
    {
        var deadline = T0.AddMinutes(minutes);

        Assert.Equal(text, Durations.Left(deadline, T0));
        Assert.Equal(color, Durations.DeadlineColor(deadline, T0));
    }
}
