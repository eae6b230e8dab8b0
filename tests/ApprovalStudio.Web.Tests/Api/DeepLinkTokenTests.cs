using System.Net;
using ApprovalStudio.Web.Features.Resume;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>Deep-link tokens and bearer tokens are signed with one key but are never accepted as each other.</summary>
public sealed class DeepLinkTokenTests
{
    [Fact]
    public async Task A_deep_link_token_is_no_bearer_token_and_a_bearer_token_is_no_deep_link()
    {
        await using var host = await AppHost.StartAsync();
        var links = host.Services.GetRequiredService<DeepLinkTokens>();
        var link = links.Issue(new DeepLinkGrant("res", AppHost.Tenant, "mia", "Mia", DateTime.UtcNow.AddHours(1)));

        using var asBearer = await host.Client(link).GetAsync("/api/tasks");
        var (grant, refusal) = await links.ReadAsync(host.Token("mia"));
        var (own, _) = await links.ReadAsync(link);

        Assert.Equal(HttpStatusCode.Unauthorized, asBearer.StatusCode);
        Assert.Null(grant);
        Assert.Contains("not valid", refusal);
        Assert.Equal(("res", "mia", AppHost.Tenant), (own!.ResId, own.UserId, own.TenantId));
    }
}
