using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using MudBlazor;

namespace ApprovalStudio.Web.Components.Shared;

/// <summary>
/// The theme's CSS variables, light and dark, made once per process and written into every page's head: no page keeps a
/// MudThemeProvider in its circuit. A provider there kept its 23 KB style string twice (its last two render trees) in every
/// open page — a tenth of an open inbox's memory — and re-rendered it to switch modes. Here the dark variables apply under
/// <c>html[data-theme=dark]</c>, which the server writes from the person's choice (<see cref="ThemeCookie"/>) and app.js
/// sets from the system's preference when there is no choice, and when the app bar's toggle is used.
/// </summary>
public sealed class ThemeStyles(IServiceScopeFactory scopes, ILoggerFactory loggers)
{
    public static readonly MudTheme Theme = new()
    {
        PaletteLight = new PaletteLight { Primary = "#2f5bea", AppbarBackground = "#1f3b99" },
        // A light primary on a dark page: text on it is dark, or a filled button's label fails contrast (white on #8aa8ff: 2.3:1).
        // Secondary text brighter than MudBlazor's half-white, which axe found below 4.5:1 on the dark surface (Operations page).
        PaletteDark = new PaletteDark { Primary = "#8aa8ff", PrimaryContrastText = "#0d1733", TextSecondary = "rgba(255,255,255,0.70)" },
    };

    private const string ProviderStyle = "<style class='mud-theme-provider'>";

    private readonly Lazy<Task<MarkupString>> _css = new(() => BuildAsync(scopes, loggers));

    /// <summary>The styles for a page's head: MudThemeProvider's, light, then its dark variables under <c>html[data-theme=dark]</c>.</summary>
    public Task<MarkupString> CssAsync() => _css.Value;

    private static async Task<MarkupString> BuildAsync(IServiceScopeFactory scopes, ILoggerFactory loggers)
    {
        await using var scope = scopes.CreateAsyncScope();
        await using var renderer = new HtmlRenderer(scope.ServiceProvider, loggers);
        var light = await RenderAsync(renderer, dark: false);
        var dark = await RenderAsync(renderer, dark: true);

        // The dark variables only: the provider's other styles (scrollbars, charts) are the same in both modes.
        var start = dark.IndexOf(ProviderStyle, StringComparison.Ordinal);
        var end = start < 0 ? -1 : dark.IndexOf("</style>", start, StringComparison.Ordinal);
        if (end < 0 || dark.IndexOf(":root{", start, StringComparison.Ordinal) is var root && root < 0 || root > end)
        {
            throw new InvalidOperationException("MudThemeProvider's output has changed: no ':root{' in its theme style.");
        }

        var variables = string.Concat(dark.AsSpan(start, root - start), "html[data-theme=dark]{", dark.AsSpan(root + ":root{".Length, end - root - ":root{".Length), "</style>");
        return new MarkupString(light + variables);
    }

    private static Task<string> RenderAsync(HtmlRenderer renderer, bool dark) => renderer.Dispatcher.InvokeAsync(async () =>
    {
        var output = await renderer.RenderComponentAsync<MudThemeProvider>(ParameterView.FromDictionary(new Dictionary<string, object?>
        {
            [nameof(MudThemeProvider.Theme)] = Theme,
            [nameof(MudThemeProvider.IsDarkMode)] = dark,
            [nameof(MudThemeProvider.ObserveSystemDarkModeChange)] = false,
        }));
        return output.ToHtmlString();
    });
}
