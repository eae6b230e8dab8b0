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
        Assert.Contains("ask [loop:1]", timeline.Markup);
        Assert.Equal("Timeline of 3 node runs", timeline.Find("svg").GetAttribute("aria-label"));
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
