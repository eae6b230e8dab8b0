using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>The admins' page for the message templates, in chromium, against the real server.</summary>
public sealed class MessagesPageTests(Browser browser, SharedHost shared) : IClassFixture<Browser>, IClassFixture<SharedHost>
{
    [Fact]
    public async Task An_admin_edits_a_template_a_broken_one_is_refused_at_the_field_a_good_one_shows_its_sample_and_the_default_comes_back()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await Session.AddPersonAsync(host, "ada", "ops", admin: true, tenant: tenant);
        var page = await Session.SignInAsync(browser, host, $"ada@{tenant}");

        await page.GetByRole(AriaRole.Link, new() { Name = "Messages" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Messages", Level = 1 })).ToBeVisibleAsync();
        var subject = page.GetByRole(AriaRole.Region, new() { Name = "email.subject", Exact = true });
        var source = subject.GetByLabel("Source of email.subject");
        var state = subject.GetByTestId("template-state");
        var original = await source.InputValueAsync();
        await Assertions.Expect(state).ToHaveTextAsync("Default");

        await source.FillAsync("Please decide: {{ task.title ");
        await subject.GetByRole(AriaRole.Button, new() { Name = "Save email.subject" }).ClickAsync();
        await Assertions.Expect(subject).ToContainTextAsync("does not parse");
        Assert.True((bool)(await SubjectTemplateAsync(host, tenant))["isDefault"]!);

        // An edit of another template, not saved yet, survives saving this one.
        var text = page.GetByRole(AriaRole.Region, new() { Name = "email.text", Exact = true }).GetByLabel("Source of email.text");
        await text.FillAsync("Draft, not saved: {{ link }}");
        await source.FillAsync("Please decide: {{ task.title }}");
        await subject.GetByRole(AriaRole.Button, new() { Name = "Save email.subject" }).ClickAsync();
        await Assertions.Expect(subject.GetByRole(AriaRole.Region, new() { Name = "Sample of email.subject" })).ToContainTextAsync("Please decide: ");
        await Assertions.Expect(state).ToHaveTextAsync("Your own");
        await Assertions.Expect(subject).Not.ToContainTextAsync("does not parse");
        var saved = await SubjectTemplateAsync(host, tenant);
        Assert.Equal(("Please decide: {{ task.title }}", false), ((string?)saved["source"], (bool)saved["isDefault"]!));
        await Assertions.Expect(text).ToHaveValueAsync("Draft, not saved: {{ link }}");
        await page.ScreenshotAsync(new() { Path = Path.Combine(Browser.ArtifactsDirectory, "messages-page.png"), FullPage = true });

        await subject.GetByRole(AriaRole.Button, new() { Name = "Use the default email.subject" }).ClickAsync();
        await Assertions.Expect(state).ToHaveTextAsync("Default");
        await Assertions.Expect(source).ToHaveValueAsync(original);
        Assert.True((bool)(await SubjectTemplateAsync(host, tenant))["isDefault"]!);
    }

    [Fact]
    public async Task A_person_who_is_not_an_admin_has_no_messages_link_and_the_page_says_it_is_for_admins()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await Session.AddPersonAsync(host, "bob", "ops", tenant: tenant);
        var page = await Session.SignInAsync(browser, host, $"bob@{tenant}");
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "History" })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Messages" })).ToHaveCountAsync(0);

        await page.GotoAsync("/admin/messages");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Not for you" })).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByLabel("Source of email.subject")).ToHaveCountAsync(0);
    }

    private static async Task<JsonObject> SubjectTemplateAsync(AppHost host, string tenant)
    {
        var templates = await host.Admin(tenant).GetFromJsonAsync<JsonArray>("/api/message-templates");
        return templates!.Single(t => (string?)t!["name"] == "email.subject")!.AsObject();
    }
}
