using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>
/// With <c>AzureAd</c> configured, the sign-in page offers Microsoft sign-in and sends people to the
/// tenant's authorize endpoint. Entra itself is out of reach here: a local stand-in serves its
/// discovery document, which is all the challenge needs.
/// </summary>
public sealed class EntraSignInTests
{
    [Fact]
    public async Task With_entra_configured_the_inbox_offers_microsoft_sign_in_and_challenges_the_tenants_authorize_endpoint()
    {
        await using var entra = await DiscoveryStandIn.StartAsync("contoso-tenant");
        await using var host = await AppHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["AzureAd:Instance"] = entra.Address.ToString(),
            ["AzureAd:TenantId"] = "contoso-tenant",
            ["AzureAd:ClientId"] = "client-123",
        });

        var page = await host.Anonymous.GetStringAsync("/signin?returnUrl=%2Fhistory");
        Assert.Contains("Sign in with Microsoft", page);
        Assert.Contains("/account/entra?returnUrl=%2Fhistory", page);

        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = host.Address };
        using var challenge = await client.GetAsync("/account/entra?returnUrl=%2Fhistory");

        Assert.Equal(HttpStatusCode.Redirect, challenge.StatusCode);
        var location = challenge.Headers.Location!.ToString();
        Assert.StartsWith($"{entra.Address}contoso-tenant/oauth2/v2.0/authorize?", location);
        Assert.Contains("client_id=client-123", location);
        Assert.Contains(Uri.EscapeDataString($"{host.Address}signin-oidc"), location);

        // Bearer tokens of the local issuer keep working beside Entra's.
        using var created = await host.Admin().PostJsonAsync("/api/workflows", Flows.Review);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
    }

    [Fact]
    public async Task Without_entra_there_is_no_microsoft_sign_in()
    {
        await using var host = await AppHost.StartAsync();

        Assert.DoesNotContain("Sign in with Microsoft", await host.Anonymous.GetStringAsync("/signin"));
        Assert.Equal(HttpStatusCode.NotFound, (await host.Anonymous.GetAsync("/account/entra")).StatusCode);
    }

    /// <summary>Entra's discovery document and (empty) key set for one tenant, served on loopback.</summary>
    private static class DiscoveryStandIn
    {
        public static Task<LoopbackServer> StartAsync(string tenant) => LoopbackServer.StartAsync((app, address) =>
        {
            app.MapGet($"/{tenant}/v2.0/.well-known/openid-configuration", () =>
            {
                var root = $"{address()}{tenant}";
                return Results.Json(new Dictionary<string, object>
                {
                    ["issuer"] = $"{root}/v2.0",
                    ["authorization_endpoint"] = $"{root}/oauth2/v2.0/authorize",
                    ["token_endpoint"] = $"{root}/oauth2/v2.0/token",
                    ["end_session_endpoint"] = $"{root}/oauth2/v2.0/logout",
                    ["jwks_uri"] = $"{root}/discovery/v2.0/keys",
                    ["response_types_supported"] = new[] { "code", "id_token", "code id_token" },
                    ["subject_types_supported"] = new[] { "pairwise" },
                    ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
                });
            });
            app.MapGet($"/{tenant}/discovery/v2.0/keys", () => Results.Json(new { keys = Array.Empty<object>() }));
        });
    }
}
