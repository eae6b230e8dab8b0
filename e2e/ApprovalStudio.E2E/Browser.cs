using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>
/// One headless Debian chromium for the test class (Playwright's own browser download cannot work
/// here). Screenshots go to <c>e2e/artifacts</c> (or <c>$APPROVALSTUDIO_ARTIFACTS</c>).
/// </summary>
public sealed class Browser : IAsyncLifetime
{
    private IPlaywright? _playwright;

    public IBrowser Chromium { get; private set; } = null!;

    public static string ArtifactsDirectory
    {
        get
        {
            var folder = Environment.GetEnvironmentVariable("APPROVALSTUDIO_ARTIFACTS");
            if (string.IsNullOrWhiteSpace(folder))
            {
                var root = new DirectoryInfo(AppContext.BaseDirectory);
                while (root is not null && !File.Exists(Path.Combine(root.FullName, "ApprovalStudio.sln")))
                {
                    root = root.Parent;
                }

                folder = Path.Combine(root?.FullName ?? Path.GetTempPath(), "e2e", "artifacts");
            }

            Directory.CreateDirectory(folder);
            return folder;
        }
    }

    public async Task InitializeAsync()
    {
        // The machines are shared and two cores: give the server time before calling a UI broken.
        Assertions.SetDefaultExpectTimeout(20_000);
        _playwright = await Playwright.CreateAsync();
        Chromium = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Environment.GetEnvironmentVariable("CHROMIUM_PATH") ?? "/usr/bin/chromium",
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
        });
    }

    public async Task DisposeAsync()
    {
        if (Chromium is not null)
        {
            await Chromium.DisposeAsync();
        }

        _playwright?.Dispose();
    }
}
