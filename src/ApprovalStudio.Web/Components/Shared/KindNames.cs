namespace ApprovalStudio.Web.Components.Shared;

/// <summary>A task kind as people read it ("Form", not "UserForm").</summary>
public static class KindNames
{
    public static string Of(string kind) => kind switch
    {
        "UserForm" => "Form",
        "ToolCall" => "Tool call",
        _ => kind,
    };
}
