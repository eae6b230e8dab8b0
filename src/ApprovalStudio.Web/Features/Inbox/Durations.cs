using MudBlazor;

namespace ApprovalStudio.Web.Features.Inbox;

/// <summary>Ages and deadlines as people read them: "3 h ago", "2 d left", "overdue 5 min".</summary>
public static class Durations
{
    public static readonly TimeSpan Warning = TimeSpan.FromHours(4);

    public static string Ago(DateTime at, DateTime now) => Short(now - at) + " ago";

    public static string Left(DateTime deadline, DateTime now) =>
        deadline <= now ? "overdue " + Short(now - deadline) : Short(deadline - now) + " left";

    public static Color DeadlineColor(DateTime deadline, DateTime now) =>
        deadline <= now ? Color.Error : deadline - now <= Warning ? Color.Warning : Color.Default;

    public static string Short(TimeSpan span) => span switch
    {
        { TotalMinutes: < 1 } => "<1 min",
        { TotalHours: < 1 } => $"{(int)span.TotalMinutes} min",
        { TotalDays: < 2 } => $"{(int)span.TotalHours} h",
        _ => $"{(int)span.TotalDays} d",
    };
}
