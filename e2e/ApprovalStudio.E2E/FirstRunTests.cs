using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>
/// What a newcomer meets: the README's run command (<c>dotnet run --project src/ApprovalStudio.Web</c>, in the
/// Production environment since there is no launch profile) and a published build, each as its own process on a
/// free port over a fresh data folder with the demo data, must serve every script and stylesheet its pages name
/// and give an inbox that answers a task in chromium.
/// </summary>
public sealed partial class FirstRunTests(Browser browser) : IClassFixture<Browser>
{
    [GeneratedRegex("/signin")]
    private static partial Regex SignInUrl();

    [GeneratedRegex("Approve .*expense")]
    private static partial Regex DemoExpense();

    [Fact]
    public async Task The_readmes_run_command_serves_a_working_inbox()
    {
        // The README's command, word for word, from the repository root.
        await using var app = await Command.StartAsync(Command.RepositoryRoot, "dotnet", ["run", "--project", "src/ApprovalStudio.Web"], TimeSpan.FromMinutes(5));

        await AssertAWorkingInboxAsync(app, "first-run");
    }

    [Fact]
    public async Task A_published_build_serves_a_working_inbox()
    {
        var output = Directory.CreateTempSubdirectory("approval-studio-publish-");
        try
        {
            var publish = await Command.RunAsync(Command.RepositoryRoot, "dotnet",
                ["publish", "src/ApprovalStudio.Web", "-c", Command.Configuration, "--no-build", "-o", output.FullName, "-nologo", "-v", "q"]);
            Assert.True(publish.ExitCode == 0, "dotnet publish failed:\n" + publish.Output);
            await using var app = await Command.StartAsync(output.FullName, "dotnet", ["ApprovalStudio.Web.dll"], TimeSpan.FromMinutes(1));

            await AssertAWorkingInboxAsync(app, "published");
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task The_sign_in_page_lists_the_demo_accounts_only_while_the_demo_data_is_on()
    {
        await using var withDemo = await AppHost.StartAsync(settings: new Dictionary<string, string?> { ["App:SeedDemoData"] = "true" });
        var page = await browser.Chromium.NewPageAsync();
        await page.GotoAsync($"{withDemo.Address}signin");
        await Assertions.Expect(page.GetByRole(AriaRole.Region, new() { Name = "Demo accounts" })).ToContainTextAsync("Approve-2026");
        await Accessibility.AssertNoSeriousViolationsAsync(page, "sign-in page");
        await page.ScreenshotAsync(new() { Path = Shot("signin-demo"), FullPage = true });

        await using var withoutDemo = await AppHost.StartAsync();
        await page.GotoAsync($"{withoutDemo.Address}signin");
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Sign in" })).ToBeVisibleAsync();
        Assert.DoesNotContain("Approve-2026", await page.ContentAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await page.GetByRole(AriaRole.Region, new() { Name = "Demo accounts" }).CountAsync());
    }

    private async Task AssertAWorkingInboxAsync(Command app, string name)
    {
        var context = await browser.Chromium.NewContextAsync(new() { BaseURL = app.Address.ToString(), ViewportSize = new() { Width = 1280, Height = 900 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/");
        await Assertions.Expect(page).ToHaveURLAsync(SignInUrl());
        await AssertEveryAssetIsServedAsync(page, "the sign-in page");

        // A demo account, as the sign-in page lists it.
        await Assertions.Expect(page.GetByRole(AriaRole.Region, new() { Name = "Demo accounts" })).ToContainTextAsync("ann@demo");
        await page.GetByLabel("User name").FillAsync("ann");
        await page.GetByLabel("Password").FillAsync("Approve-2026");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached, Timeout = 60_000 });
        await AssertEveryAssetIsServedAsync(page, "the inbox");

        // MudBlazor's stylesheet is applied (an unstyled page has a static app bar and giant icons).
        Assert.Equal("fixed", await page.Locator(".mud-appbar").EvaluateAsync<string>("e => getComputedStyle(e).position"));

        var task = page.GetByRole(AriaRole.Link, new() { NameRegex = DemoExpense() });
        await Assertions.Expect(task).ToBeVisibleAsync(new() { Timeout = 60_000 });
        var title = await task.InnerTextAsync();
        await page.ScreenshotAsync(new() { Path = Shot($"{name}-inbox"), FullPage = true });
        await task.ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Approve", Exact = true }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Status, new() { Name = "Outcome" })).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Shot($"{name}-answered"), FullPage = true });

        // Answered: gone from the inbox, listed in the history.
        await page.GotoAsync("/history");
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = title })).ToBeVisibleAsync();
        await page.GotoAsync("/");
        await page.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = title })).ToHaveCountAsync(0);
        await context.CloseAsync();
    }

    /// <summary>Every script and stylesheet the page names answers 200 with a body (not the empty 200 of a missing static web asset).</summary>
    private static async Task AssertEveryAssetIsServedAsync(IPage page, string what)
    {
        var urls = await page.EvaluateAsync<string[]>(
            "() => [...document.querySelectorAll('script[src], link[rel=stylesheet][href]')].map(e => e.src || e.href)");
        Assert.True(urls.Length >= 4, $"{what} names only {urls.Length} scripts and stylesheets: {string.Join(", ", urls)}");
        foreach (var url in urls)
        {
            var response = await page.APIRequest.GetAsync(url);
            var body = await response.BodyAsync();
            Assert.True(response.Status == 200 && body.Length > 0, $"{what}: {url} answered {response.Status} with {body.Length} bytes");
        }
    }

    private static string Shot(string name) => Path.Combine(Browser.ArtifactsDirectory, name + ".png");

    /// <summary>The app started by a command line as a newcomer would, on a free port and a fresh data folder; killed with its children and the folder removed at the end.</summary>
    private sealed class Command(AppProcess app, DirectoryInfo data) : IAsyncDisposable
    {
        public Uri Address => app.Address;

        public static string Configuration => new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;

        public static string RepositoryRoot
        {
            get
            {
                var root = new DirectoryInfo(AppContext.BaseDirectory);
                while (root is not null && !File.Exists(Path.Combine(root.FullName, "ApprovalStudio.sln")))
                {
                    root = root.Parent;
                }

                return root?.FullName ?? throw new InvalidOperationException("ApprovalStudio.sln not found above the test output.");
            }
        }

        /// <summary>No environment name set (Production, as `dotnet run` without a launch profile), the demo data on.</summary>
        public static async Task<Command> StartAsync(string directory, string file, string[] args, TimeSpan startTimeout)
        {
            var address = new Uri($"http://127.0.0.1:{AppProcess.FreePort()}");
            var data = Directory.CreateTempSubdirectory("approval-studio-first-run-");
            var info = Info(directory, file, args);
            info.Environment["ASPNETCORE_URLS"] = address.ToString();
            info.Environment["App__DataDirectory"] = data.FullName;
            try
            {
                return new Command(await AppProcess.StartAsync(info, address, startTimeout), data);
            }
            catch
            {
                data.Delete(recursive: true);
                throw;
            }
        }

        public static async Task<(int ExitCode, string Output)> RunAsync(string directory, string file, string[] args)
        {
            using var process = Process.Start(Info(directory, file, args))!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
            return (process.ExitCode, await stdout + await stderr);
        }

        private static ProcessStartInfo Info(string directory, string file, string[] args)
        {
            var info = new ProcessStartInfo(file, args)
            {
                WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };

            // As on a newcomer's machine: no environment name (the test runner's must not leak in), no MSBuild node left behind.
            info.Environment.Remove("ASPNETCORE_ENVIRONMENT");
            info.Environment.Remove("DOTNET_ENVIRONMENT");
            info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
            info.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
            return info;
        }

        public async ValueTask DisposeAsync()
        {
            await app.DisposeAsync();
            data.Delete(recursive: true);
        }
    }
}
