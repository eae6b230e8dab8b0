using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>"Resume from here" on the completed nodes of a failed run, in the run's page.</summary>
public sealed class ResumeFromPageTests(Browser browser) : IClassFixture<Browser>
{
    [Fact]
    public async Task A_failed_runs_page_offers_resume_from_here_and_the_new_run_completes()
    {
        await using var target = await FlakyTarget.StartAsync();
        await using var host = await AppHost.StartAsync(settings: LoopbackTargets.Allowed);
        await host.CreateWorkflowAsync("""
            {"key":"sync","start":"prepare",
             "nodes":[{"id":"prepare","type":"set","values":{"order":"input.order"}},
                      {"id":"notify","type":"http","method":"POST","url":"TARGET/hook","body":{"order":"{{prepare.order}}"}}],
             "edges":[{"from":"prepare","to":"notify"}]}
            """.Replace("TARGET/", target.Address.ToString(), StringComparison.Ordinal));
        await Session.AddPersonAsync(host, "olga", "ops");
        var failed = await host.StartRunAsync("sync", """{"order":"B-1"}""");
        await host.WaitForAsync(failed, s => (string?)s["status"] == "Failed");
        target.Healthy = true;

        var page = await Session.SignInAsync(browser, host, "olga", $"/executions/{failed}");
        await Assertions.Expect(page.GetByTestId("run-status")).ToHaveTextAsync("Failed");
        await page.GetByText("Prepare · Set values · Completed").ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Resume from prepare" }).ClickAsync();

        await Assertions.Expect(page.GetByText("Resumed from node prepare")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("run-status")).ToHaveTextAsync("Completed");
        await Assertions.Expect(page.GetByTestId("run-status")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("mud-chip-color-success"));
        Assert.Equal("""{"order":"B-1"}""", target.LastBody);
        Assert.Equal("Failed", (string?)(await host.StatusAsync(failed))["status"]);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "execution-resumed-from.png"), FullPage = true });
    }
}
