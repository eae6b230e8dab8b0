using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Playwright;

namespace ApprovalStudio.E2E;

/// <summary>
/// The security headers on pages, API answers and files, and the Content-Security-Policy that the inbox (Blazor Server
/// and MudBlazor) works under in chromium: no violation while signing in, opening and answering a task, or on a deep link.
/// </summary>
public sealed class SecurityHeadersTests(Browser browser, SharedHost shared) : IClassFixture<Browser>, IClassFixture<SharedHost>
{
    private const string Expense = """
        {"key":"expense","name":"Expense","start":"manager",
         "nodes":[{"id":"manager","type":"approval","title":"Approve {{input.amount}} EUR","assignees":{"groups":["managers"]},"expiresAfter":"P1D"},
                  {"id":"book","type":"set","values":{"booked":"manager.decision"}}],
         "edges":[{"from":"manager","to":"book"}]}
        """;

    [Fact]
    public async Task The_inbox_works_under_the_content_security_policy_and_every_answer_carries_the_headers()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Expense, tenant: tenant);
        await Session.AddPersonAsync(host, "mia", "managers", tenant: tenant);
        var run = await host.StartRunAsync("expense", """{"amount":90}""", tenant: tenant);
        await host.WaitForTaskAsync(run, tenant: tenant);
        var violations = new ConcurrentQueue<string>();
        var documents = new ConcurrentQueue<IResponse>();

        var context = await browser.Chromium.NewContextAsync(new() { BaseURL = host.Address.ToString() });
        var page = await context.NewPageAsync();
        Watch(page, violations, documents);
        await page.GotoAsync("/");
        await page.GetByLabel("User name").FillAsync($"mia@{tenant}");
        await page.GetByLabel("Password").FillAsync(Session.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await page.GetByRole(AriaRole.Link, new() { Name = "Approve 90 EUR" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Approve", Exact = true }).ClickAsync();
        await host.WaitForAsync(run, s => (string?)s["status"] == "Completed", tenant: tenant);
        await page.GetByRole(AriaRole.Button, new() { Name = "Switch to dark mode" }).ClickAsync();
        await page.GotoAsync("/history");
        await page.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });

        Assert.Empty(violations);
        Assert.True(documents.Count >= 3, $"saw {documents.Count} page loads");
        foreach (var document in documents)
        {
            var headers = await document.AllHeadersAsync();
            Assert.True(headers.TryGetValue("content-security-policy", out var csp) && csp.Contains("script-src 'self';", StringComparison.Ordinal)
                && csp.Contains("frame-ancestors 'none'", StringComparison.Ordinal), $"{document.Url}: {csp}");
            Assert.Equal("nosniff", headers["x-content-type-options"]);
            Assert.Equal("DENY", headers["x-frame-options"]);
        }

        // API answers (success and problem) and files carry them too.
        foreach (var (client, path) in new[]
        {
            (host.Client(host.Token("mia", ["managers"], tenant: tenant)), "/api/tasks"), (host.Anonymous, "/api/tasks"), (host.Anonymous, "/api/no-such"),
            (host.Anonymous, "/assets/app.js"), (host.Anonymous, "/_framework/blazor.web.js"),
        })
        {
            using var response = await client.GetAsync(path);
            Assert.True(response.Headers.TryGetValues("X-Content-Type-Options", out var sniff) && sniff.Single() == "nosniff", $"{path}: no nosniff");
            Assert.True(response.Headers.TryGetValues("X-Frame-Options", out var frame) && frame.Single() == "DENY", $"{path}: no X-Frame-Options");
        }
    }

    [Fact]
    public async Task A_deep_link_page_sends_no_referrer_and_works_under_the_policy()
    {
        var host = shared.Host;
        var tenant = shared.NewTenant();
        await host.CreateWorkflowAsync(Expense, tenant: tenant);
        await Session.AddPersonAsync(host, "mia", "managers", tenant: tenant);
        var run = await host.StartRunAsync("expense", """{"amount":90}""", tenant: tenant);
        var resId = await host.WaitForTaskAsync(run, tenant: tenant);
        using var created = await host.Admin(tenant).PostAsync($"/api/tasks/{resId}/links", AppHost.Json("""{"userId":"mia"}"""));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var url = (string)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["url"]!;
        var violations = new ConcurrentQueue<string>();
        var documents = new ConcurrentQueue<IResponse>();

        var page = await browser.Chromium.NewPageAsync();
        Watch(page, violations, documents);
        await page.GotoAsync(url);
        await page.GetByTestId("interactive").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await page.GetByRole(AriaRole.Button, new() { Name = "Approve", Exact = true }).ClickAsync();
        await host.WaitForAsync(run, s => (string?)s["status"] == "Completed", tenant: tenant);

        Assert.Empty(violations);
        var headers = await Assert.Single(documents).AllHeadersAsync();
        Assert.Equal("no-referrer", headers["referrer-policy"]);
    }

    /// <summary>Collects CSP violations (securitypolicyviolation events and the console's "Refused to …") and the page loads.</summary>
    private static void Watch(IPage page, ConcurrentQueue<string> violations, ConcurrentQueue<IResponse> documents)
    {
        page.Console += (_, message) =>
        {
            if (message.Text.Contains("Content Security Policy", StringComparison.Ordinal) || message.Text.StartsWith("Refused to", StringComparison.Ordinal))
            {
                violations.Enqueue(message.Text);
            }
        };
        page.Response += (_, response) =>
        {
            if (response.Request.ResourceType == "document")
            {
                documents.Enqueue(response);
            }
        };
        page.AddInitScriptAsync("document.addEventListener('securitypolicyviolation', e => console.error('Content Security Policy: ' + e.violatedDirective + ' ' + e.blockedURI));")
            .GetAwaiter().GetResult();
    }
}
