using System.Net;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Hub;
using ApprovalStudio.Web.Tests.Api;
using Microsoft.AspNetCore.SignalR.Client;

namespace ApprovalStudio.Web.Tests.Hub;

/// <summary>The inbox's sign-in (the Identity cookie) works for the hub and the API as a bearer token does.</summary>
public sealed class CookieSignInHubTests
{
    private static async Task<CookieContainer> SignInAsync(AppHost host, string user, string password)
    {
        var cookies = new CookieContainer();
        using var client = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = host.Address };
        var token = await SignInForm.TokenAsync(client);
        using var response = await client.PostAsync("/account/signin", SignInForm.Fields(user, password, token));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/", response.Headers.Location?.ToString());
        return cookies;
    }

    [Fact]
    public async Task A_signed_in_person_follows_a_run_over_the_hub_with_the_inbox_cookie()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Flows.Review);
        using (var person = await host.Admin().PutAsync("/api/users/bob", AppHost.Json("""{"name":"Bob","groups":["ops"],"password":"Correct-Horse-7"}""")))
        {
            Assert.Equal(HttpStatusCode.Created, person.StatusCode);
        }

        var executionId = await host.StartRunAsync("review-flow");
        await host.WaitForTaskAsync(executionId);
        var cookies = await SignInAsync(host, "bob", "Correct-Horse-7");

        await using var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(host.Address, ExecutionHub.Path), o => o.Cookies = cookies)
            .Build();
        await connection.StartAsync();
        var events = await connection.InvokeAsync<IReadOnlyList<ExecutionEventMessage>>("SubscribeExecution", executionId, null);

        Assert.Equal(["started", "nodeStarted", "suspended"], events.Select(e => e.Type));
        using var api = new HttpClient(new HttpClientHandler { CookieContainer = cookies }) { BaseAddress = host.Address };
        var tasks = await api.GetStringAsync("/api/tasks");
        Assert.Contains("Look at", tasks);
    }

    [Fact]
    public async Task Five_wrong_passwords_lock_the_account_and_every_failure_is_answered_alike_whether_or_not_the_name_exists()
    {
        await using var host = await AppHost.StartAsync();
        using (await host.Admin().PutAsync("/api/users/eve", AppHost.Json("""{"name":"Eve","password":"Correct-Horse-7"}"""))) { }
        var cookies = new CookieContainer();
        using var client = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = host.Address };

        async Task<(string? Location, string Page)> TryAsync(string user, string password)
        {
            var token = await SignInForm.TokenAsync(client);
            using var response = await client.PostAsync("/account/signin", SignInForm.Fields(user, password, token, returnUrl: null));
            var location = response.Headers.Location?.ToString();
            return (location, location is null ? string.Empty : await client.GetStringAsync(location));
        }

        var unknown = await TryAsync("nobody-by-this-name", "wrong");
        var wrong = await TryAsync("eve", "wrong");
        Assert.Equal(unknown.Location, wrong.Location);
        Assert.Contains("The user name or password is not right.", wrong.Page);
        for (var i = 0; i < 4; i++)
        {
            await TryAsync("eve", "wrong");
        }

        // Locked now: even the right password is refused, with the very same answer an unknown name gets.
        var locked = await TryAsync("eve", "Correct-Horse-7");
        Assert.Equal(unknown.Location, locked.Location);
        Assert.DoesNotContain("error=locked", locked.Location);
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(unknown.Location, (await TryAsync("nobody-by-this-name", "wrong")).Location);
        }

        await using var db = host.Database.OpenContext();
        var eve = db.Users.Single(u => u.UserId == "eve");
        Assert.True(eve.LockoutEnd > DateTimeOffset.UtcNow, "five failures lock the account");
    }

    [Fact]
    public async Task In_demo_mode_the_sign_in_page_lists_the_seeded_accounts_and_they_sign_in_and_see_seeded_tasks()
    {
        await using var host = await AppHost.StartAsync(settings: new Dictionary<string, string?> { ["App:SeedDemoData"] = "true" });

        var page = await host.Anonymous.GetStringAsync("/signin");
        Assert.Contains("ann@demo", page);
        Assert.Contains(Web.Features.Demo.DemoData.Password, page);

        var cookies = await SignInAsync(host, "ann", Web.Features.Demo.DemoData.Password);
        using var api = new HttpClient(new HttpClientHandler { CookieContainer = cookies }) { BaseAddress = host.Address };
        var deadline = DateTime.UtcNow.AddSeconds(20);
        string tasks;
        do
        {
            tasks = await api.GetStringAsync("/api/tasks");
            await Task.Delay(100);
        }
        while (!tasks.Contains("Review contract with Acme GmbH", StringComparison.Ordinal) && DateTime.UtcNow < deadline);

        Assert.Contains("Approve Jane Doe's expense of 1840 EUR", tasks);
        Assert.Contains("Review contract with Acme GmbH", tasks);
        Assert.DoesNotContain("Onboarding details", tasks);
    }

    [Fact]
    public async Task A_sign_in_post_without_the_antiforgery_token_is_refused()
    {
        await using var host = await AppHost.StartAsync();

        using var response = await host.Anonymous.PostAsync("/account/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["userName"] = "eve", ["password"] = "x",
        }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }
}
