namespace ApprovalStudio.Web.Components.Shared;

/// <summary>
/// The light/dark choice a person made with the app bar's toggle, kept in a cookie (set by
/// <c>approvalStudio.setTheme</c> in /assets/app.js) so that the first render after a reload is already right.
/// </summary>
public static class ThemeCookie
{
    public const string Name = "theme";
    public const string Dark = "dark";
    public const string Light = "light";

    /// <summary>true/false for a choice, null for "follow the system".</summary>
    public static bool? IsDark(string? value) => value switch
    {
        Dark => true,
        Light => false,
        _ => null,
    };
}
