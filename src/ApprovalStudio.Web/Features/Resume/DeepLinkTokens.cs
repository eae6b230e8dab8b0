using System.Security.Claims;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ApprovalStudio.Web.Features.Resume;

/// <summary>
/// What a deep link grants: one recipient may answer one task, until it expires. <paramref name="Channel"/> is the channel
/// the link was sent through (email, slack): signed into the link, so the answer is recorded as coming from it.
/// </summary>
public sealed record DeepLinkGrant(string ResId, string TenantId, string UserId, string Name, DateTime ExpiresAt, string Channel = NotificationChannels.Email);

/// <summary>
/// Signed, expiring deep-link tokens (a JWT of the local key with its own audience, so neither kind of
/// token is accepted as the other). Bound to one task and one recipient.
/// </summary>
public sealed class DeepLinkTokens(SymmetricSecurityKey key, TimeProvider clock)
{
    public const string Audience = "approval-studio/deep-link";

    /// <summary>How long a link to a task without a deadline stays valid.</summary>
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromDays(7);

    private const string ChannelClaim = "via";

    public string Issue(DeepLinkGrant grant) =>
        new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = LocalAuthOptions.Issuer,
            Audience = Audience,
            Subject = new ClaimsIdentity([new Claim(ActorClaims.Subject, grant.UserId)]),
            Claims = new Dictionary<string, object>
            {
                ["res"] = grant.ResId, [ActorClaims.Tenant] = grant.TenantId, [ActorClaims.Name] = grant.Name, [ChannelClaim] = grant.Channel,
            },
            IssuedAt = clock.GetUtcNow().UtcDateTime,
            NotBefore = clock.GetUtcNow().UtcDateTime.AddMinutes(-1),
            Expires = grant.ExpiresAt,
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
        });

    /// <summary>The link a recipient follows: <c>{baseUrl}/links/{token}</c>.</summary>
    public string Link(string baseUrl, DeepLinkGrant grant) => $"{baseUrl.TrimEnd('/')}/links/{Issue(grant)}";

    /// <summary>The grant, or why the token is refused (tampered, expired, not a deep link).</summary>
    public async Task<(DeepLinkGrant? Grant, string? Refusal)> ReadAsync(string token)
    {
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = LocalAuthOptions.Issuer,
            ValidAudience = Audience,
            IssuerSigningKey = key,
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            ClockSkew = TimeSpan.Zero,
            LifetimeValidator = (notBefore, expires, _, _) => expires > clock.GetUtcNow().UtcDateTime,
        });
        if (!result.IsValid)
        {
            return (null, result.Exception is SecurityTokenExpiredException or SecurityTokenInvalidLifetimeException
                ? "This link has expired." : "This link is not valid: it may have been changed or cut short.");
        }

        var jwt = (JsonWebToken)result.SecurityToken;
        // Links signed before the channel was part of them were email links, or said ?via=slack unsigned: email it is.
        var channel = jwt.TryGetClaim(ChannelClaim, out var via) ? via.Value : NotificationChannels.Email;
        return (new DeepLinkGrant(jwt.GetClaim("res").Value, jwt.GetClaim(ActorClaims.Tenant).Value, jwt.Subject, jwt.GetClaim(ActorClaims.Name).Value, jwt.ValidTo, channel), null);
    }
}
