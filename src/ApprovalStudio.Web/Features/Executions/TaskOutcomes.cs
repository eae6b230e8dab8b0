using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Persistence;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>What an answered task decided, in words every channel uses ("Approved by Max via slack at …").</summary>
public static class TaskOutcomes
{
    /// <summary>An approval's decision (<c>Approved</c>, <c>Rejected</c>, <c>RequestChanges</c>), or null for any other task.</summary>
    public static string? Decision(TaskRecord task) =>
        task.Kind == "Approval" && task.OutputJson is { } output && JsonNode.Parse(output) is JsonObject answer && answer["decision"] is JsonValue decision
            && decision.TryGetValue<string>(out var text)
            ? text
            : null;

    /// <summary>"Approved", "Rejected", "Changes requested" for an approval; "Acknowledged", "Submitted" or "Answered" otherwise.</summary>
    public static string Verb(TaskRecord task) => task.Kind switch
    {
        "Approval" => Verb(Decision(task)),
        "Review" => "Acknowledged",
        "UserForm" => "Submitted",
        _ => "Answered",
    };

    /// <summary>An approval's decision in words ("Answered" when there is none).</summary>
    public static string Verb(string? decision) => decision switch
    {
        "RequestChanges" => "Changes requested",
        null or "" => "Answered",
        _ => decision,
    };

    /// <summary>An approval's decision as a person did it, in lower case: "approved", "rejected", "requested changes".</summary>
    public static string Did(string? decision) => decision switch
    {
        "Approved" => "approved",
        "Rejected" => "rejected",
        "RequestChanges" => "requested changes",
        null or "" => "answered",
        _ => decision,
    };
}
