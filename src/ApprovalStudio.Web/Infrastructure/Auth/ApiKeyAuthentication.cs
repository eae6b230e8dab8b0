using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Infrastructure.Auth;

/// <summary>
/// Tenant API keys as a way of signing in (CONTRACT §4.4): <c>ask_{id}_{secret}</c> in <c>Authorization</c>, bare or as a
/// bearer token, stored as SHA-256. The ApiKeys feature creates and revokes them; this is how a request proves one.
/// </summary>
public static class ApiKeyAuthentication
{
    public const string Scheme = "ApiKey";
    public const string Prefix = "ask_";

    /// <summary>The key in an Authorization header, bare or as a bearer token; null when there is none.</summary>
    public static string? KeyIn(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString().Trim();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            header = header["Bearer ".Length..].Trim();
        }

        return header.StartsWith(Prefix, StringComparison.Ordinal) ? header : null;
    }

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}

/// <summary>Authenticates a request carrying a live API key of some tenant.</summary>
public sealed class ApiKeyHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, AppDbContext db, TimeProvider clock)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var key = ApiKeyAuthentication.KeyIn(Request);
        if (key is null)
        {
            return AuthenticateResult.NoResult();
        }

        var parts = key[ApiKeyAuthentication.Prefix.Length..].Split('_', 2);
        var record = parts.Length == 2 ? await db.ApiKeys.SingleOrDefaultAsync(k => k.Id == parts[0], Context.RequestAborted) : null;
        if (record is null || record.RevokedAt is not null || !CryptographicOperations.FixedTimeEquals(ApiKeyAuthentication.Hash(key), record.Hash))
        {
            return AuthenticateResult.Fail("Unknown or revoked API key.");
        }

        // "Last used" to the minute: a key in constant use must not turn every request into a write.
        var now = clock.GetUtcNow().UtcDateTime;
        if (record.LastUsedAt is null || now - record.LastUsedAt > TimeSpan.FromMinutes(1))
        {
            await db.WriteAsync(ct => db.ApiKeys.Where(k => k.Id == record.Id).ExecuteUpdateAsync(s => s.SetProperty(k => k.LastUsedAt, now), ct), Context.RequestAborted);
        }

        var identity = new ClaimsIdentity(
            [new Claim(ActorClaims.Subject, $"apikey:{record.Id}"), new Claim(ActorClaims.Name, record.Name), new Claim(ActorClaims.Tenant, record.TenantId)],
            ApiKeyAuthentication.Scheme, ActorClaims.Name, ActorClaims.Roles);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), ApiKeyAuthentication.Scheme));
    }
}
