using System.Security.Claims;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Infrastructure.Auth;

/// <summary>The inbox cookie carries the same claims as a bearer token, so <see cref="Actor.From"/> reads both alike.</summary>
public sealed class ActorClaimsFactory(UserManager<AppUser> users, IOptions<IdentityOptions> options)
    : UserClaimsPrincipalFactory<AppUser>(users, options)
{
    protected override async Task<ClaimsIdentity> GenerateClaimsAsync(AppUser user)
    {
        var identity = await base.GenerateClaimsAsync(user);
        identity.AddClaim(new Claim(ActorClaims.Subject, user.UserId));
        identity.AddClaim(new Claim(ActorClaims.Name, user.DisplayName));
        identity.AddClaim(new Claim(ActorClaims.Tenant, user.TenantId));
        identity.AddClaims(user.GroupList.Select(g => new Claim(ActorClaims.Groups, g)));
        identity.AddClaims(user.RoleList.Select(r => new Claim(ActorClaims.Roles, r)));
        return identity;
    }
}
