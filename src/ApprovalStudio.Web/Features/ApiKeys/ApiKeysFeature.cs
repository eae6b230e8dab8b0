using System.Buffers.Text;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Errors;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.ApiKeys;

public sealed record ApiKeyCreated(string Id, string Name, string Key, DateTime CreatedAt);

public sealed record ApiKeyView(string Id, string Name, string CreatedBy, DateTime CreatedAt, DateTime? RevokedAt, DateTime? LastUsedAt);

/// <summary>
/// Tenant API keys for machine callers (CONTRACT §4.4): created and revoked by admins, shown once, stored
/// as SHA-256. Accepted in <c>Authorization</c> as the bare key (the seed's form) or as a bearer token.
/// A key acts as a member of its tenant, never as an admin.
/// </summary>
public static class ApiKeysFeature
{
    public const string Scheme = "ApiKey";
    public const string Prefix = "ask_";

    public static IEndpointRouteBuilder MapApiKeys(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/api-keys").WithTags("API keys").RequireAuthorization(Policies.Admin)
            .RequireRateLimiting(RateLimits.Api);
        group.MapPost("/", Create).WithSummary("Create an API key for the tenant; the key is in this answer only.")
            .Accepts<JsonObject>("application/json");
        group.MapGet("/", List).WithSummary("The tenant's API keys (never the keys themselves).");
        group.MapDelete("/{id}", Revoke).WithSummary("Revoke an API key at once.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

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

    private static async Task<Results<Created<ApiKeyCreated>, ProblemHttpResult>> Create(
        HttpRequest request, Actor actor, AppDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        var (body, problem) = await Problems.ReadJsonAsync(request, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        if ((body as JsonObject)?["name"] is not JsonValue v || !v.TryGetValue<string>(out var name) || string.IsNullOrWhiteSpace(name) || name.Length > 200)
        {
            return Problems.Validation("name", "name is required (1–200 characters): say who or what uses the key.");
        }

        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var key = $"{Prefix}{id}_{Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32))}";
        var now = clock.GetUtcNow().UtcDateTime;
        db.ApiKeys.Add(new ApiKeyRecord { Id = id, TenantId = actor.TenantId, Name = name.Trim(), Hash = Hash(key), CreatedBy = actor.UserId, CreatedAt = now });
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Created($"/api/api-keys/{id}", new ApiKeyCreated(id, name.Trim(), key, now));
    }

    private static async Task<Ok<ApiKeyView[]>> List(Actor actor, AppDbContext db, CancellationToken cancellationToken)
    {
        var keys = await db.ApiKeys.AsNoTracking().Where(k => k.TenantId == actor.TenantId).OrderBy(k => k.CreatedAt)
            .Select(k => new ApiKeyView(k.Id, k.Name, k.CreatedBy, k.CreatedAt, k.RevokedAt, k.LastUsedAt)).ToArrayAsync(cancellationToken);
        return TypedResults.Ok(keys);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Revoke(
        string id, Actor actor, AppDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        var revoked = await db.ApiKeys.Where(k => k.Id == id && k.TenantId == actor.TenantId && k.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAt, clock.GetUtcNow().UtcDateTime), cancellationToken);
        return revoked == 1 || await db.ApiKeys.AnyAsync(k => k.Id == id && k.TenantId == actor.TenantId, cancellationToken)
            ? TypedResults.NoContent()
            : Problems.NotFound($"API key '{id}'");
    }

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}

/// <summary>Authenticates a request carrying a live API key of some tenant.</summary>
public sealed class ApiKeyHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, AppDbContext db, TimeProvider clock)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var key = ApiKeysFeature.KeyIn(Request);
        if (key is null)
        {
            return AuthenticateResult.NoResult();
        }

        var parts = key[ApiKeysFeature.Prefix.Length..].Split('_', 2);
        var record = parts.Length == 2 ? await db.ApiKeys.SingleOrDefaultAsync(k => k.Id == parts[0], Context.RequestAborted) : null;
        if (record is null || record.RevokedAt is not null || !CryptographicOperations.FixedTimeEquals(ApiKeysFeature.Hash(key), record.Hash))
        {
            return AuthenticateResult.Fail("Unknown or revoked API key.");
        }

        // "Last used" to the minute: a key in constant use must not turn every request into a write.
        var now = clock.GetUtcNow().UtcDateTime;
        if (record.LastUsedAt is null || now - record.LastUsedAt > TimeSpan.FromMinutes(1))
        {
            await db.ApiKeys.Where(k => k.Id == record.Id).ExecuteUpdateAsync(s => s.SetProperty(k => k.LastUsedAt, now), Context.RequestAborted);
        }

        var identity = new ClaimsIdentity(
            [new Claim(ActorClaims.Subject, $"apikey:{record.Id}"), new Claim(ActorClaims.Name, record.Name), new Claim(ActorClaims.Tenant, record.TenantId)],
            ApiKeysFeature.Scheme, ActorClaims.Name, ActorClaims.Roles);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), ApiKeysFeature.Scheme));
    }
}
