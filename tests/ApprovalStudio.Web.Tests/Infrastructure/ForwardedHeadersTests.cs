using System.Net;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Tests.Infrastructure;

/// <summary>
/// Behind a TLS-terminating proxy (ForwardedHeaders:Enabled, loopback and the named proxies trusted) redirects carry the
/// public scheme and host and the sign-in cookie is Secure; reached directly (the default) the app ignores those headers.
/// </summary>
public sealed class ForwardedHeadersTests
{
    [Fact]
    public async Task Behind_a_trusted_proxy_redirects_use_the_public_scheme_and_host_and_the_sign_in_cookie_is_secure()
    {
        await using var host = await AppHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["ForwardedHeaders:Enabled"] = "true", ["ForwardedHeaders:KnownProxies:0"] = "10.1.2.3", ["ForwardedHeaders:AllowedHosts:0"] = "approvals.example.com",
            ["App:SeedDemoData"] = "true",
        });
        var cookies = new CookieContainer();
        using var client = Proxied(host, cookies);

        using (var page = await client.GetAsync("/"))
        {
            Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
            Assert.StartsWith("https://approvals.example.com/signin", page.Headers.Location!.ToString(), StringComparison.Ordinal);
        }

        var token = await SignInForm.TokenAsync(client);
        using var signIn = await client.PostAsync("/account/signin", SignInForm.Fields("ann", Web.Features.Demo.DemoData.Password, token));
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        var session = Assert.Single(signIn.Headers.GetValues("Set-Cookie"), c => c.StartsWith("approval-studio=", StringComparison.Ordinal));
        Assert.Contains("secure", session, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Reached_directly_by_default_the_app_ignores_forwarded_headers_a_client_sends_itself()
    {
        await using var host = await AppHost.StartAsync();
        using var client = Proxied(host, new CookieContainer());

        using var page = await client.GetAsync("/");

        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.StartsWith($"{host.Address.ToString().TrimEnd('/')}/signin", page.Headers.Location!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_forwarded_host_that_is_not_allowed_is_not_believed()
    {
        await using var host = await AppHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["ForwardedHeaders:Enabled"] = "true", ["ForwardedHeaders:AllowedHosts:0"] = "approvals.example.com",
        });
        using var client = Proxied(host, new CookieContainer());
        client.DefaultRequestHeaders.Remove("X-Forwarded-Host");
        client.DefaultRequestHeaders.Add("X-Forwarded-Host", "attacker.example");

        using var page = await client.GetAsync("/");

        Assert.DoesNotContain("attacker.example", page.Headers.Location!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_known_proxy_that_is_not_an_address_stops_the_app_naming_the_setting()
    {
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => AppHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["ForwardedHeaders:Enabled"] = "true", ["ForwardedHeaders:KnownProxies:0"] = "proxy.internal",
        }));
        var validation = Assert.IsType<OptionsValidationException>(refused is OptionsValidationException ? refused : refused.InnerException);
        Assert.Contains("ForwardedHeaders:KnownProxies: 'proxy.internal' is not an IP address.", validation.Message, StringComparison.Ordinal);
    }

    // As nginx sends them for a browser on https://approvals.example.com.
    private static HttpClient Proxied(AppHost host, CookieContainer cookies)
    {
        var client = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = host.Address };
        client.DefaultRequestHeaders.Add("X-Forwarded-Proto", "https");
        client.DefaultRequestHeaders.Add("X-Forwarded-Host", "approvals.example.com");
        client.DefaultRequestHeaders.Add("X-Forwarded-For", "203.0.113.7");
        return client;
    }
}
