namespace ApprovalStudio.Web.Components.Shared;

/// <summary>
/// What the browser's cookies said when the page was prerendered: the light/dark choice (<see cref="ThemeCookie"/>) and
/// whether the window is a phone's (<see cref="NarrowCookie"/>). Cascaded once and fixed: one cascading component kept by
/// every open page rather than one per choice; each choice changes in the page itself afterwards, not by a new cascade.
/// </summary>
public sealed record BrowserChoices(string? Theme, string? Narrow);
