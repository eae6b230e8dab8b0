namespace ApprovalStudio.Web.Components.Shared;

/// <summary>
/// Whether the browser's window is a phone's (below MudBlazor's sm breakpoint, 600 px), kept in a cookie by /assets/app.js
/// so that a page renders its rows in the one layout the browser shows — in its first HTML and in its live circuit — instead
/// of in both, with CSS hiding one.
/// </summary>
public static class NarrowCookie
{
    public const string Name = "narrow";

    /// <summary>true/false once the browser has said; null when it has not (both layouts then).</summary>
    public static bool? IsNarrow(string? value) => value switch
    {
        "1" => true,
        "0" => false,
        _ => null,
    };
}
