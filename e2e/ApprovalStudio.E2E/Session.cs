using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>People of the test tenant and their signed-in browser pages.</summary>
public static class Session
{
    public const string Password = "Correct-Horse-7";

    public static async Task AddPersonAsync(AppHost host, string user, string groups, string tenant = AppHost.Tenant, bool admin = false)
    {
        var groupList = string.Join(",", groups.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(g => $"\"{g}\""));
        var roles = admin ? "\"admin\"" : "";
        using var response = await host.Admin(tenant).PutAsync($"/api/users/{user}",
            AppHost.Json($$"""{"name":"{{char.ToUpperInvariant(user[0]) + user[1..]}}","groups":[{{groupList}}],"roles":[{{roles}}],"password":"{{Password}}"}"""));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Opens <paramref name="path"/>, is sent to sign in, signs in, and waits for the interactive circuit.</summary>
    public static async Task<IPage> SignInAsync(
        Browser browser, AppHost host, string user, string path = "/", int width = 1280, int height = 900, ColorScheme scheme = ColorScheme.Light)
    {
        var context = await browser.Chromium.NewContextAsync(new()
        {
            BaseURL = host.Address.ToString(), ViewportSize = new() { Width = width, Height = height }, ColorScheme = scheme,
        });
        var page = await context.NewPageAsync();
        await page.GotoAsync(path);
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/signin"));
        await page.GetByLabel("User name").FillAsync(user);
        await page.GetByLabel("Password").FillAsync(Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        return page;
    }
}
