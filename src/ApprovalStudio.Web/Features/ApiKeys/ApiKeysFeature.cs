using System.Buffers.Text;
using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Errors;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.ApiKeys;

/// <summary>The body of <c>POST /api/api-keys</c>: who or what uses the key.</summary>
public sealed record ApiKeyRequest(
    [property: Required(ErrorMessage = ApiKeyRequest.NameRule), StringLength(200, ErrorMessage = ApiKeyRequest.NameRule)] string? Name)
{
    public const string NameRule = "name is required (1–200 characters): say who or what uses the key.";
}

public sealed record ApiKeyCreated(string Id, string Name, string Key, DateTime CreatedAt);

public sealed record ApiKeyView(string Id, string Name, string CreatedBy, DateTime CreatedAt, DateTime? RevokedAt, DateTime? LastUsedAt);

/// <summary>
/// Tenant API keys for machine callers (CONTRACT §4.4): created and revoked by admins, shown once, stored
/// as SHA-256. Accepted in <c>Authorization</c> as the bare key (the seed's form) or as a bearer token.
/// A key acts as a member of its tenant, never as an admin.
/// </summary>
public static class ApiKeysFeature
{

    public static IEndpointRouteBuilder MapApiKeys(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/api-keys").WithTags("API keys").RequireAuthorization(Policies.Admin)
            .RequireRateLimiting(RateLimits.Api);
        group.MapPost("/", Create).WithSummary("Create an API key for the tenant; the key is in this answer only.")
            .Accepts<ApiKeyRequest>("application/json");
        group.MapGet("/", List).WithSummary("The tenant's API keys (never the keys themselves).");
        group.MapDelete("/{id}", Revoke).WithSummary("Revoke an API key at once.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<Results<Created<ApiKeyCreated>, ProblemHttpResult>> Create(
        HttpRequest request, Actor actor, AppDbContext db, TimeProvider clock, CancellationToken cancellationToken)
    {
        var (body, problem) = await Problems.ReadBodyAsync<ApiKeyRequest>(request, "{name}", cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var name = body!.Name!;

        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var key = $"{ApiKeyAuthentication.Prefix}{id}_{Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32))}";
        var now = clock.GetUtcNow().UtcDateTime;
        db.ApiKeys.Add(new ApiKeyRecord { Id = id, TenantId = actor.TenantId, Name = name.Trim(), Hash = ApiKeyAuthentication.Hash(key), CreatedBy = actor.UserId, CreatedAt = now });
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
        var revoked = await db.WriteAsync(ct => db.ApiKeys.Where(k => k.Id == id && k.TenantId == actor.TenantId && k.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAt, clock.GetUtcNow().UtcDateTime), ct), cancellationToken);
        return revoked == 1 || await db.ApiKeys.AnyAsync(k => k.Id == id && k.TenantId == actor.TenantId, cancellationToken)
            ? TypedResults.NoContent()
            : Problems.NotFound($"API key '{id}'");
    }
}
