using System.Security.Claims;
using ApprovalStudio.Web.Infrastructure.Auth;

namespace ApprovalStudio.Web.Tests.Infrastructure;

public sealed class ActorTests
{
    [Fact]
    public void A_local_token_names_the_actor_by_sub_and_tenant()
    {
        var actor = Actor.From(new ClaimsPrincipal(new ClaimsIdentity(
        [
            new Claim("sub", "ann"), new Claim("tenant", "acme"), new Claim("name", "Ann"),
            new Claim("groups", "ops"), new Claim("groups", "hr"), new Claim("roles", "admin"),
        ], "test")));

        Assert.NotNull(actor);
        Assert.Equal(("acme", "ann", "Ann", true), (actor.TenantId, actor.UserId, actor.Name, actor.IsAdmin));
        Assert.Equal(["hr", "ops"], actor.Groups.Order());
    }

    [Fact]
    public void An_entra_principal_is_named_by_its_object_id_in_its_directory_tenant()
    {
        var actor = Actor.From(new ClaimsPrincipal(new ClaimsIdentity(
        [
            new Claim("sub", "pairwise-per-app"), new Claim("oid", "00000000-0000-0000-0000-0000000000aa"),
            new Claim("tid", "11111111-1111-1111-1111-111111111111"), new Claim("name", "Ann Entra"), new Claim("groups", "[\"g1\",\"g2\"]"),
        ], "test")));

        Assert.NotNull(actor);
        Assert.Equal(("11111111-1111-1111-1111-111111111111", "00000000-0000-0000-0000-0000000000aa"), (actor.TenantId, actor.UserId));
        Assert.Equal(["g1", "g2"], actor.Groups.Order());
        Assert.False(actor.IsAdmin);
    }

    [Fact]
    public void A_principal_without_a_tenant_is_no_actor() =>
        Assert.Null(Actor.From(new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "ann")], "test"))));
}
