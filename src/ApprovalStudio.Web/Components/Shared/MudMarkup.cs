using Microsoft.AspNetCore.Components;

namespace ApprovalStudio.Web.Components.Shared;

/// <summary>
/// The markup MudBlazor's buttons render, for buttons and links that every open page keeps: a component costs a circuit
/// some 4 KB for as long as the page is open, these cost the elements alone.
/// </summary>
public static class MudMarkup
{
    /// <summary>MudButton, text variant, Color.Inherit.</summary>
    public const string TextButton = "mud-button-root mud-button mud-button-text mud-button-text-inherit mud-button-text-size-medium mud-ripple";

    /// <summary>MudIconButton, Color.Inherit.</summary>
    public const string IconButton = "mud-button-root mud-icon-button mud-inherit-text hover:mud-inherit-hover mud-ripple mud-ripple-icon";

    /// <summary>MudIconButton, Color.Default, Size.Small.</summary>
    public const string SmallIconButton = "mud-button-root mud-icon-button mud-ripple mud-ripple-icon mud-icon-button-size-small";

    /// <summary>What a MudIconButton holds: its icon, hidden from screen readers (the button's label names it).</summary>
    public static RenderFragment IconLabel(string icon, bool small = false) => builder =>
    {
        builder.OpenElement(0, "span");
        builder.AddAttribute(1, "class", "mud-icon-button-label");
        builder.OpenElement(2, "svg");
        builder.AddAttribute(3, "class", small ? "mud-icon-root mud-svg-icon mud-icon-size-small" : "mud-icon-root mud-svg-icon mud-icon-size-medium");
        builder.AddAttribute(4, "focusable", "false");
        builder.AddAttribute(5, "viewBox", "0 0 24 24");
        builder.AddAttribute(6, "aria-hidden", "true");
        builder.AddMarkupContent(7, icon);
        builder.CloseElement();
        builder.CloseElement();
    };
}
