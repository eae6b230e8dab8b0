using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Errors;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Infrastructure.Idempotency;

/// <summary>The <c>Idempotency</c> section.</summary>
public sealed class IdempotencyOptions
{
    public const string SectionName = "Idempotency";

    /// <summary>How long a key and its answer are kept: a retry within it gets the first answer again.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00")]
    public TimeSpan KeepFor { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How long a request in flight holds its key: after it, a retry takes the key over (its instance died).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan InFlightFor { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>
/// <c>Idempotency-Key</c> on the routes that answer tasks and start runs (IETF draft-ietf-httpapi-idempotency-key-header):
/// a retry with the same key, route and body gets the first answer again (with <c>Idempotent-Replayed: true</c>) and
/// changes nothing; the same key with another route or body is a 422; a retry while the first is still being answered is
/// a 409 with <c>Retry-After</c>. Keys are the caller's own (per run on the anonymous webhook route) and kept for
/// <see cref="IdempotencyOptions.KeepFor"/>. A server error, 401 or 403 is not kept: the retry runs again. A request
/// without the header is answered as always.
/// <para>
/// The key is recorded before the request runs and its answer after, in commits of their own: if the instance dies
/// between the two, a retry after <see cref="IdempotencyOptions.InFlightFor"/> runs the request again. The pipeline's
/// guard still answers an answer once (a 409 naming who gave it). A route that starts a run writes the run's id on the
/// key in the start's own commit (<see cref="IdempotencyHold"/>), so a retry that takes the key over answers for that run
/// instead of starting a second one.
/// </para>
/// </summary>
public static class IdempotencyKeys
{
    public const string Header = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";

    /// <summary>The longest key taken (the draft suggests UUIDs; 200 leaves room for the caller's own scheme).</summary>
    public const int MaxLength = 200;

    public static IHostApplicationBuilder AddIdempotencyKeys(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<IdempotencyOptions>().BindConfiguration(IdempotencyOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        return builder;
    }

    /// <summary>Keys on this route are the signed-in caller's own (tenant and user or API key): nobody else can replay them.</summary>
    public static RouteHandlerBuilder WithIdempotencyKeys(this RouteHandlerBuilder route) =>
        route.WithIdempotencyKeys(context => Actor.From(context.User) is { } actor ? $"t:{actor.TenantId}|{actor.UserId}" : null);

    /// <summary>Keys on this route are per <paramref name="scope"/> of the request (null: the header is ignored).</summary>
    public static RouteHandlerBuilder WithIdempotencyKeys(this RouteHandlerBuilder route, Func<HttpContext, string?> scope) =>
        route.AddEndpointFilter((context, next) => FilterAsync(context, next, scope))
            .WithMetadata(new IdempotencyKeyMetadata());

    private static async ValueTask<object?> FilterAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next, Func<HttpContext, string?> scopeOf)
    {
        var http = invocation.HttpContext;
        var headers = http.Request.Headers[Header];
        if (headers.Count == 0 || scopeOf(http) is not { } scope)
        {
            return await next(invocation);
        }

        if (headers.Count > 1 || Parse(headers[0]) is not { } key)
        {
            return Problems.Validation(Header, $"{Header} must be one string of 1 to {MaxLength} visible ASCII characters, as \"8e03978e-40d5-43e8-bc93-6894a57f9324\".");
        }

        var services = http.RequestServices;
        var options = services.GetRequiredService<IOptions<IdempotencyOptions>>().Value;
        var clock = services.GetRequiredService<TimeProvider>();
        var db = services.GetRequiredService<AppDbContext>();
        var cancellationToken = http.RequestAborted;
        var fingerprint = await FingerprintAsync(http.Request, cancellationToken);

        var now = clock.GetUtcNow().UtcDateTime;
        // The hold's end is this request's mark on the row: only a row still bearing it is answered or let go by it (a
        // request that outlived its hold may have been taken over). Microseconds: what PostgreSQL keeps.
        var hold = new DateTime((now + options.InFlightFor).Ticks / 10 * 10, DateTimeKind.Utc);
        var (claim, started) = await ClaimAsync(db, scope, key, fingerprint, now, hold, now + options.KeepFor, cancellationToken);
        if (claim is not null)
        {
            return claim;
        }

        http.Features.Set(new IdempotencyHold(scope, key, hold, started));

        // Ours: run the route, write its answer to a buffer, keep it (unless the server failed), then send it.
        var original = http.Response.Body;
        using var buffer = new MemoryStream();
        http.Response.Body = buffer;
        try
        {
            var result = await next(invocation);
            if (IsStream(result))
            {
                // A stream is not kept (it is live, and long): the key is let go, and a retry is answered anew.
                http.Response.Body = original;
                await ReleaseAsync(db, scope, key, hold, CancellationToken.None);
                return result;
            }

            switch (result)
            {
                case IResult answer:
                    await answer.ExecuteAsync(http);
                    break;
                case not null:
                    await TypedResults.Ok(result).ExecuteAsync(http);
                    break;
            }
        }
        catch
        {
            http.Response.Body = original;
            await ReleaseAsync(db, scope, key, hold, CancellationToken.None);
            throw;
        }

        http.Response.Body = original;
        var status = http.Response.StatusCode;
        // Server errors are not kept, nor refusals of who the caller is (a wrong secret on the webhook route must not
        // spoil the key for the caller who has the right one).
        if (status >= 500 || status is StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden)
        {
            await ReleaseAsync(db, scope, key, hold, CancellationToken.None);
        }
        else
        {
            var body = Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
            var location = http.Response.Headers.Location.ToString();
            await db.WriteAsync(ct => db.IdempotencyKeys.Where(k => k.Scope == scope && k.Key == key && k.Status == IdempotencyStatuses.InFlight && k.LockedUntil == hold)
                .ExecuteUpdateAsync(s => s
                .SetProperty(k => k.Status, IdempotencyStatuses.Done)
                .SetProperty(k => k.LockedUntil, (DateTime?)null)
                .SetProperty(k => k.ResponseStatus, status)
                .SetProperty(k => k.ResponseContentType, http.Response.ContentType)
                .SetProperty(k => k.ResponseLocation, location.Length == 0 ? null : location)
                .SetProperty(k => k.ResponseBody, body), ct), CancellationToken.None);
        }

        buffer.Position = 0;
        await buffer.CopyToAsync(original, cancellationToken);
        return Results.Empty;
    }

    private static bool IsStream(object? result)
    {
        while (result is INestedHttpResult nested)
        {
            result = nested.Result;
        }

        return result?.GetType() is { IsGenericType: true } type && type.GetGenericTypeDefinition() == typeof(Microsoft.AspNetCore.Http.HttpResults.ServerSentEventsResult<>);
    }

    /// <summary>
    /// Takes the key for this request (with the run an earlier holder started, if it did), or answers instead of it: a
    /// replay, a 422 or a 409.
    /// </summary>
    private static async Task<(IResult? Answer, string? Started)> ClaimAsync(
        AppDbContext db, string scope, string key, string fingerprint, DateTime now, DateTime hold, DateTime expires, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var existing = await db.IdempotencyKeys.AsNoTracking().SingleOrDefaultAsync(k => k.Scope == scope && k.Key == key, cancellationToken);
            if (existing is null || existing.ExpiresAt <= now)
            {
                if (await InsertAsync(db, scope, key, fingerprint, now, hold, expires, existing, cancellationToken))
                {
                    return (null, null);
                }

                continue; // another request took it meanwhile: look again
            }

            if (existing.Fingerprint != fingerprint)
            {
                return (Problems.Status(StatusCodes.Status422UnprocessableEntity, $"This {Header} was used for another request.",
                    $"A request with {Header} '{key}' was made to another route or with another body; a key names one request. Use a new key for a new request.",
                    new Dictionary<string, object?> { ["errors"] = new Dictionary<string, string[]> { [Header] = ["The key was used for another request."] } }), null);
            }

            if (existing.Status == IdempotencyStatuses.Done)
            {
                return (new Replay(existing), null);
            }

            if (existing.LockedUntil > now)
            {
                return (new InFlight(existing.LockedUntil.Value - now), null);
            }

            // In flight on an instance that stopped answering it: take it over — only as read, so a holder that was slow, not
            // dead, and committed its run meanwhile is seen on the next look (and answered for) rather than started again.
            var taken = await db.WriteAsync(ct => db.IdempotencyKeys
                .Where(k => k.Scope == scope && k.Key == key && k.Status == IdempotencyStatuses.InFlight && k.LockedUntil == existing.LockedUntil
                    && k.ExecutionId == existing.ExecutionId)
                .ExecuteUpdateAsync(s => s.SetProperty(k => k.LockedUntil, hold), ct), cancellationToken);
            if (taken == 1)
            {
                return (null, existing.ExecutionId);
            }
        }

        return (new InFlight(TimeSpan.FromSeconds(1)), null);
    }

    private static async Task<bool> InsertAsync(
        AppDbContext db, string scope, string key, string fingerprint, DateTime now, DateTime hold, DateTime expires, IdempotencyRecord? expired,
        CancellationToken cancellationToken)
    {
        if (expired is not null)
        {
            await db.WriteAsync(ct => db.IdempotencyKeys.Where(k => k.Scope == scope && k.Key == key && k.ExpiresAt <= now).ExecuteDeleteAsync(ct), cancellationToken);
        }

        db.IdempotencyKeys.Add(new IdempotencyRecord
        {
            Scope = scope, Key = key, Fingerprint = fingerprint, Status = IdempotencyStatuses.InFlight, LockedUntil = hold,
            CreatedAt = now, ExpiresAt = expires,
        });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return true;
        }
        catch (DbUpdateException)
        {
            // The key's row exists after all (a request with the same key at the same instant).
            return false;
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
    }

    private static Task ReleaseAsync(AppDbContext db, string scope, string key, DateTime hold, CancellationToken cancellationToken) =>
        db.WriteAsync(ct => db.IdempotencyKeys.Where(k => k.Scope == scope && k.Key == key && k.Status == IdempotencyStatuses.InFlight && k.LockedUntil == hold)
            .ExecuteDeleteAsync(ct), cancellationToken);

    /// <summary>The key from the header: a structured-field string ("…"), or the bare text older clients send.</summary>
    internal static string? Parse(string? header)
    {
        var text = header?.Trim();
        if (text is { Length: >= 2 } && text[0] == '"' && text[^1] == '"')
        {
            text = text[1..^1];
        }

        return text is { Length: > 0 and <= MaxLength } && text.All(c => c is >= '!' and <= '~') ? text : null;
    }

    private static async Task<string> FingerprintAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        request.EnableBuffering();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{request.Method} {request.Path}{request.QueryString}\n"));
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            hash.AppendData(chunk, 0, read);
        }

        request.Body.Position = 0;
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The first request's answer again, as it was sent.</summary>
    private sealed class Replay(IdempotencyRecord record) : IResult
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            context.Response.StatusCode = record.ResponseStatus ?? StatusCodes.Status200OK;
            context.Response.Headers[ReplayedHeader] = "true";
            if (record.ResponseLocation is not null)
            {
                context.Response.Headers.Location = record.ResponseLocation;
            }

            if (record.ResponseContentType is not null)
            {
                context.Response.ContentType = record.ResponseContentType;
            }

            await context.Response.WriteAsync(record.ResponseBody ?? "", context.RequestAborted);
        }
    }

    private sealed class InFlight(TimeSpan left) : IResult
    {
        public Task ExecuteAsync(HttpContext context)
        {
            context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(left.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Problems.Status(StatusCodes.Status409Conflict, $"A request with this {Header} is still being answered.",
                "Retry after the time in Retry-After: you will get its answer.").ExecuteAsync(context);
        }
    }
}

/// <summary>
/// The key this request holds (in <c>HttpContext.Features</c> while a keyed request runs). <paramref name="Started"/>: the run
/// an earlier holder of the key started before its instance died (then this request answers for that run).
/// </summary>
public sealed record IdempotencyHold(string Scope, string Key, DateTime Hold, string? Started)
{
    /// <summary>
    /// Writes <paramref name="executionId"/> on the key, in the caller's transaction (the start's commit); false when this
    /// request no longer holds the key (it outlived its hold and a retry took the key over): then the start must not commit.
    /// </summary>
    public async Task<bool> RecordStartAsync(AppDbContext db, string executionId, CancellationToken cancellationToken) =>
        await db.IdempotencyKeys
            .Where(k => k.Scope == Scope && k.Key == Key && k.Status == IdempotencyStatuses.InFlight && k.LockedUntil == Hold)
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.ExecutionId, executionId), cancellationToken) == 1;

    /// <summary>The 409 of a request that lost its key to a retry while it ran: its title and detail.</summary>
    public const string LostTitle = $"A request with this {IdempotencyKeys.Header} is still being answered.";

    public const string LostDetail = "This request took too long and a retry with the same key took over; that retry's answer is the one that counts.";

    public static ProblemHttpResult Lost() => Problems.Status(StatusCodes.Status409Conflict, LostTitle, LostDetail);
}

/// <summary>Marks a route that takes <c>Idempotency-Key</c> (for the OpenAPI document).</summary>
public sealed class IdempotencyKeyMetadata;
