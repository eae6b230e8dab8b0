using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Security;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>One app whose every bucket holds 3 calls and refills once an hour; each test spends its own callers' buckets.</summary>
public sealed class RateLimitedApp : IAsyncLifetime
{
    public const int Limit = 3;

    public AppHost Host { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var settings = new Dictionary<string, string?>();
        foreach (var rule in new[] { "Api", "SignIn", "DeepLinks", "Webhooks", "Slack" })
        {
            settings[$"RateLimits:{rule}:TokenLimit"] = $"{Limit}";
            settings[$"RateLimits:{rule}:TokensPerPeriod"] = "1";
            settings[$"RateLimits:{rule}:Period"] = "01:00:00";
        }

        Host = await AppHost.StartAsync(settings: settings);
        await Host.CreateWorkflowAsync(Flows.Review);
    }

    public async Task DisposeAsync() => await Host.DisposeAsync();
}

public sealed class RateLimitTests(RateLimitedApp app) : IClassFixture<RateLimitedApp>
{
    private AppHost Host => app.Host;

    /// <summary>A client whose connections come from <paramref name="source"/> (any 127.x.y.z is this machine), so each test has its own address.</summary>
    private HttpClient From(string source, string? token = null)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        var client = new HttpClient(handler) { BaseAddress = Host.Address };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        }

        return client;
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, string? json = null, string? accept = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = json is null ? null : AppHost.Json(json) };
        if (accept is not null)
        {
            request.Headers.Accept.ParseAdd(accept);
        }

        return await client.SendAsync(request);
    }

    /// <summary><see cref="RateLimitedApp.Limit"/> calls are served (whatever they answer), the next is a 429 problem with Retry-After.</summary>
    private static async Task SpendAsync(Func<Task<HttpResponseMessage>> call)
    {
        for (var i = 0; i < RateLimitedApp.Limit; i++)
        {
            using var served = await call();
            Assert.NotEqual(HttpStatusCode.TooManyRequests, served.StatusCode);
        }

        await AssertRefusedAsync(await call());
    }

    private static async Task AssertRefusedAsync(HttpResponseMessage response)
    {
        using (response)
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            var retryAfter = Assert.Single(response.Headers.GetValues("Retry-After"));
            Assert.InRange(int.Parse(retryAfter, System.Globalization.CultureInfo.InvariantCulture), 1, 3600);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.Equal(429, (int)problem["status"]!);
            Assert.Equal(int.Parse(retryAfter, System.Globalization.CultureInfo.InvariantCulture), (int)problem["retryAfter"]!);
            Assert.Contains("try again in", (string)problem["detail"]!, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_api_is_limited_per_tenant_and_actor_and_a_refused_resume_consumes_nothing()
    {
        // Read from the database: polling the API would spend the buckets this class counts.
        var executionId = await Host.StartRunAsync("review-flow", """{"doc":"rate"}""");
        var resId = await Poll.UntilAsync(() => TaskOf(executionId)?.ResId, null, () => $"no task for {executionId}");
        using var ann = Host.Client(Host.Token("ann", ["ops"]));

        await SpendAsync(() => SendAsync(ann, HttpMethod.Get, "/api/tasks"));

        // Ann's bucket is empty on every API route, the resume route included, and the refusal changes nothing.
        await AssertRefusedAsync(await SendAsync(ann, HttpMethod.Post, $"/api/executions/{resId}/resume", """{"acknowledged":true}"""));
        Assert.Equal(TaskStatuses.Pending, TaskOf(executionId)!.Status);

        // Another person of the tenant, and the same name in another tenant, have buckets of their own.
        using var bob = Host.Client(Host.Token("bob"));
        using (var answered = await SendAsync(bob, HttpMethod.Post, $"/api/executions/{resId}/resume", """{"acknowledged":true}"""))
        {
            Assert.Equal(HttpStatusCode.Accepted, answered.StatusCode);
        }

        using var otherAnn = Host.Client(Host.Token("ann", ["ops"], tenant: "globex"));
        using (var elsewhere = await SendAsync(otherAnn, HttpMethod.Get, "/api/tasks"))
        {
            Assert.Equal(HttpStatusCode.OK, elsewhere.StatusCode);
        }
    }

    private TaskRecord? TaskOf(string executionId)
    {
        using var db = Host.Database.OpenContext();
        return db.Tasks.AsNoTracking().SingleOrDefault(t => t.ExecutionId == executionId);
    }

    [Fact]
    public async Task Callers_without_a_valid_token_share_their_address_bucket_so_guessing_is_limited_too()
    {
        using var guesser = From("127.0.0.21", token: "not-a-token");
        await SpendAsync(() => SendAsync(guesser, HttpMethod.Get, "/api/tasks"));

        using var neighbour = From("127.0.0.22", token: "not-a-token");
        using var served = await SendAsync(neighbour, HttpMethod.Get, "/api/tasks");
        Assert.Equal(HttpStatusCode.Unauthorized, served.StatusCode);
    }

    [Fact]
    public async Task The_webhook_is_limited_per_client_address()
    {
        using var caller = From("127.0.0.31");
        await SpendAsync(() => SendAsync(caller, HttpMethod.Post, "/v1/runs/no-run/nodes/ask/resume?secret=guess", """{"data":{}}"""));

        using var other = From("127.0.0.32");
        using var served = await SendAsync(other, HttpMethod.Post, "/v1/runs/no-run/nodes/ask/resume?secret=guess", """{"data":{}}""");
        Assert.NotEqual(HttpStatusCode.TooManyRequests, served.StatusCode);
    }

    [Fact]
    public async Task Slack_interactions_are_limited_per_client_address()
    {
        using var caller = From("127.0.0.41");
        Task<HttpResponseMessage> Press(HttpClient client) =>
            client.PostAsync("/integrations/slack/interactions", new FormUrlEncodedContent(new Dictionary<string, string> { ["payload"] = "{}" }));
        await SpendAsync(() => Press(caller));

        using var other = From("127.0.0.42");
        using var served = await Press(other);
        Assert.NotEqual(HttpStatusCode.TooManyRequests, served.StatusCode);
    }

    [Fact]
    public async Task Sign_in_is_limited_per_client_address_even_for_the_right_password_and_a_browser_gets_a_page()
    {
        using (var person = await Host.Admin().PutAsync("/api/users/rita", AppHost.Json("""{"name":"Rita","password":"Correct-Horse-7"}""")))
        {
            Assert.Equal(HttpStatusCode.Created, person.StatusCode);
        }

        async Task<HttpResponseMessage> SignInAsync(HttpClient client, string password)
        {
            var token = await SignInForm.TokenAsync(client);
            using var request = new HttpRequestMessage(HttpMethod.Post, "/account/signin") { Content = SignInForm.Fields("rita", password, token, returnUrl: null) };
            request.Headers.Accept.ParseAdd("text/html");
            return await client.SendAsync(request);
        }

        var cookies = new CookieContainer();
        using var guesser = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = Host.Address };
        for (var i = 0; i < RateLimitedApp.Limit; i++)
        {
            using var wrong = await SignInAsync(guesser, "wrong-" + i);
            Assert.Equal(HttpStatusCode.Redirect, wrong.StatusCode);
        }

        using (var refused = await SignInAsync(guesser, "Correct-Horse-7"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.NotNull(refused.Headers.RetryAfter);
            Assert.Equal("text/html", refused.Content.Headers.ContentType?.MediaType);
            Assert.Contains("Too many requests", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.False(refused.Headers.Contains("Set-Cookie") && refused.Headers.GetValues("Set-Cookie").Any(c => c.StartsWith(".AspNetCore.Identity", StringComparison.Ordinal)),
                "a refused sign-in sets no session cookie");
        }

        using var neighbour = From("127.0.0.51");
        using var signedIn = await SignInAsync(neighbour, "Correct-Horse-7");
        Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
    }

    [Fact]
    public async Task Deep_link_pages_are_limited_per_client_address()
    {
        using var caller = From("127.0.0.61");
        for (var i = 0; i < RateLimitedApp.Limit; i++)
        {
            using var page = await SendAsync(caller, HttpMethod.Get, $"/links/guess-{i}", accept: "text/html");
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Contains("This link cannot be used", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var refused = await SendAsync(caller, HttpMethod.Get, "/links/guess-4", accept: "text/html"))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.NotNull(refused.Headers.RetryAfter);
            Assert.Contains("Too many requests", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Not a browser: the same refusal as problem+json.
        await AssertRefusedAsync(await SendAsync(caller, HttpMethod.Get, "/links/guess-5"));

        using var other = From("127.0.0.62");
        using var served = await SendAsync(other, HttpMethod.Get, "/links/guess-0", accept: "text/html");
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    [Fact]
    public void Every_route_a_caller_can_reach_has_its_bucket()
    {
        var expected = new (string Prefix, string Policy)[]
        {
            ("/api/", RateLimits.Api), ("/v1/dispatch/", RateLimits.Api), ("/workflows/runs/", RateLimits.Api), ("/hubs/", RateLimits.Api),
            ("/v1/runs/", RateLimits.Webhooks), ("/integrations/slack/", RateLimits.Slack), ("/links/", RateLimits.DeepLinks),
            ("/account/signin", RateLimits.SignIn),
        };
        var endpoints = Host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();
        var checkedCount = 0;
        foreach (var endpoint in endpoints)
        {
            var route = "/" + endpoint.RoutePattern.RawText!.TrimStart('/');
            var rule = expected.FirstOrDefault(e => route.StartsWith(e.Prefix, StringComparison.Ordinal));
            if (rule.Prefix is null)
            {
                continue;
            }

            checkedCount++;
            var policy = endpoint.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName;
            Assert.True(policy == rule.Policy, $"{route} ({endpoint.DisplayName}) has rate-limit policy '{policy}', expected '{rule.Policy}'");
        }

        Assert.True(checkedCount > 25, $"only {checkedCount} routes were checked; the prefixes no longer match the app");
    }

    [Fact]
    public async Task Limits_can_be_switched_off_and_a_bucket_that_cannot_hold_a_call_stops_the_app_from_starting()
    {
        await using (var unlimited = await AppHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["RateLimits:Enabled"] = "false", ["RateLimits:Api:TokenLimit"] = "1",
        }))
        {
            using var ann = unlimited.Client(unlimited.Token("ann"));
            for (var i = 0; i < 5; i++)
            {
                using var served = await ann.GetAsync("/api/tasks");
                Assert.Equal(HttpStatusCode.OK, served.StatusCode);
            }
        }

        var failure = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var broken = await AppHost.StartAsync(settings: new Dictionary<string, string?> { ["RateLimits:Webhooks:TokenLimit"] = "0" });
        });
        Assert.Contains("RateLimits:Webhooks:TokenLimit", failure.ToString(), StringComparison.Ordinal);
    }
}
