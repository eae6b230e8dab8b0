using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ApprovalStudio.Web.Infrastructure.Auth;

/// <summary>The <c>Auth:Local</c> section: the app's own token issuer.</summary>
public sealed class LocalAuthOptions
{
    public const string SectionName = "Auth:Local";
    public const string Issuer = "approval-studio";
    public const string Audience = "approval-studio";

    /// <summary>Base64 of at least 32 bytes; generated and kept in the data folder when absent.</summary>
    public string? SigningKey { get; set; }
}

/// <summary>
/// Finds the local signing key: <c>Auth:Local:SigningKey</c> when set, else the key file in the data
/// folder, generated on first use. The server and <c>issue-token</c> read it the same way, so they agree.
/// </summary>
public static class SigningKeyStore
{
    public const string FileName = "signing-key";
    public const int MinimumBytes = 32;

    public static SymmetricSecurityKey Resolve(IConfiguration configuration, string dataDirectory)
    {
        var configured = configuration[$"{LocalAuthOptions.SectionName}:{nameof(LocalAuthOptions.SigningKey)}"];
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return new SymmetricSecurityKey(Decode(configured, "Auth:Local:SigningKey"));
        }

        var path = Path.Combine(dataDirectory, FileName);
        if (!File.Exists(path))
        {
            try
            {
                using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }

                using var writer = new StreamWriter(file);
                writer.Write(Convert.ToBase64String(RandomNumberGenerator.GetBytes(48)));
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process (the server, or issue-token) created it first: use theirs.
            }
        }

        return new SymmetricSecurityKey(Decode(File.ReadAllText(path).Trim(), path));
    }

    private static byte[] Decode(string base64, string source)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            throw new InvalidOperationException($"{source} is not valid base64.");
        }

        return bytes.Length >= MinimumBytes
            ? bytes
            : throw new InvalidOperationException($"{source} must decode to at least {MinimumBytes} bytes; it has {bytes.Length}.");
    }
}

/// <summary>Mints the local issuer's JWTs (the <c>issue-token</c> command, tests, and later local sign-in).</summary>
/// <summary>The key the local issuer signs with (sign-in tokens, deep links): one per deployment, shared by its instances.</summary>
public sealed record LocalSigningKey(SymmetricSecurityKey Key);

public sealed class TokenIssuer(SymmetricSecurityKey key, TimeProvider clock)
{
    public string Issue(TokenRequest request)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var claims = new Dictionary<string, object>
        {
            [ActorClaims.Tenant] = request.Tenant,
            [ActorClaims.Name] = request.Name ?? request.User,
        };
        if (request.Groups.Count > 0)
        {
            claims[ActorClaims.Groups] = request.Groups.ToArray();
        }

        if (request.Roles.Count > 0)
        {
            claims[ActorClaims.Roles] = request.Roles.ToArray();
        }

        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = LocalAuthOptions.Issuer,
            Audience = LocalAuthOptions.Audience,
            Subject = new ClaimsIdentity([new Claim(ActorClaims.Subject, request.User)]),
            Claims = claims,
            IssuedAt = now,
            NotBefore = request.NotBefore?.UtcDateTime ?? now,
            Expires = now + request.Lifetime,
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
        };
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(descriptor);
    }
}

public sealed record TokenRequest(string Tenant, string User)
{
    public string? Name { get; init; }
    public IReadOnlyList<string> Groups { get; init; } = [];
    public IReadOnlyList<string> Roles { get; init; } = [];
    public TimeSpan Lifetime { get; init; } = TimeSpan.FromHours(8);
    public DateTimeOffset? NotBefore { get; init; }
}

public static class ActorClaims
{
    public const string Subject = "sub";
    public const string Name = "name";
    public const string Tenant = "tenant";
    public const string EntraTenant = "tid";
    public const string EntraObjectId = "oid";
    public const string Groups = "groups";
    public const string Roles = "roles";
}

/// <summary>Who is asking: user, tenant, groups and roles, read from the token's claims.</summary>
public sealed record Actor(string TenantId, string UserId, string Name, IReadOnlySet<string> Groups, IReadOnlySet<string> Roles)
{
    public const string AdminRole = "admin";

    public bool IsAdmin => Roles.Contains(AdminRole);

    /// <summary>
    /// Binds an endpoint's <see cref="Actor"/> parameter from the signed-in caller. Every route that takes one requires the
    /// member or admin policy, which already refused a caller without a tenant: minimal APIs answer 400 if it were missing.
    /// </summary>
    public static ValueTask<Actor?> BindAsync(HttpContext context) => ValueTask.FromResult(From(context.User));

    public static Actor? From(ClaimsPrincipal principal)
    {
        // Entra's stable user id is `oid` (its `sub` differs per app); local tokens and cookies carry `sub`.
        var user = principal.FindFirst(ActorClaims.EntraObjectId)?.Value ?? principal.FindFirst(ActorClaims.Subject)?.Value;
        var tenant = principal.FindFirst(ActorClaims.Tenant)?.Value ?? principal.FindFirst(ActorClaims.EntraTenant)?.Value;
        if (string.IsNullOrEmpty(user) || string.IsNullOrEmpty(tenant))
        {
            return null;
        }

        return new Actor(
            tenant,
            user,
            principal.FindFirst(ActorClaims.Name)?.Value ?? user,
            Values(principal, ActorClaims.Groups),
            Values(principal, ActorClaims.Roles));
    }

    private static HashSet<string> Values(ClaimsPrincipal principal, string type)
    {
        var values = new HashSet<string>(StringComparer.Ordinal);
        foreach (var claim in principal.FindAll(type))
        {
            // A single-valued array claim may arrive as JSON text.
            if (claim.Value.StartsWith('['))
            {
                try
                {
                    values.UnionWith(JsonSerializer.Deserialize<string[]>(claim.Value) ?? []);
                    continue;
                }
                catch (JsonException)
                {
                }
            }

            values.Add(claim.Value);
        }

        return values;
    }
}
