using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Identity;
using Microsoft.Identity.Web;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ApprovalStudio.Web.Infrastructure.Auth;

public static partial class AuthExtensions
{
    public const string LocalScheme = JwtBearerDefaults.AuthenticationScheme;
    public const string EntraScheme = "AzureAd";
    public const string EntraWebScheme = "AzureAdOidc";
    public const string EntraCookieScheme = "AzureAdCookie";
    private const string SelectorScheme = "BearerSelector";

    /// <summary>The data-protection application name every instance shares (cookies made by one are read by all).</summary>
    public const string DataProtectionApplicationName = "ApprovalStudio";

    /// <summary>
    /// Bearer tokens from the local issuer always; Entra ID tokens too when <c>AzureAd:ClientId</c>
    /// is set (Microsoft.Identity.Web is not registered otherwise, so the app starts offline).
    /// </summary>
    public static IHostApplicationBuilder AddAuth(this IHostApplicationBuilder builder)
    {
        // Sign-in cookies and antiforgery tokens are protected with keys kept in the database under one application name:
        // every instance on the database accepts what another made (by default each process kept its own keys, and a
        // cookie made behind one instance was refused by the next).
        builder.Services.AddDataProtection().SetApplicationName(DataProtectionApplicationName).PersistKeysToDbContext<AppDbContext>();

        var dataDirectory = AppOptions.ResolveDataDirectory(builder.Configuration, builder.Environment.ContentRootPath);
        var key = SigningKeyStore.Resolve(builder.Configuration, dataDirectory);
        builder.Services.AddSingleton(sp => new TokenIssuer(key, sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton(new LocalSigningKey(key));

        var entra = IsEntraConfigured(builder.Configuration);
        var authentication = builder.Services.AddAuthentication(o =>
        {
            o.DefaultScheme = SelectorScheme;
            o.DefaultChallengeScheme = SelectorScheme;
        });
        authentication.AddJwtBearer(LocalScheme, o =>
        {
            o.MapInboundClaims = false;
            o.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = LocalAuthOptions.Issuer,
                ValidAudience = LocalAuthOptions.Audience,
                IssuerSigningKey = key,
                ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                NameClaimType = ActorClaims.Name,
                RoleClaimType = ActorClaims.Roles,
                ClockSkew = TimeSpan.FromSeconds(30),
            };
            o.Events = new JwtBearerEvents { OnMessageReceived = AcceptHubQueryToken };
        });

        if (entra)
        {
            // Bearer tokens from Entra for the API and hub; OpenID Connect sign-in (own cookie) for the inbox.
            authentication.AddMicrosoftIdentityWebApi(builder.Configuration, "AzureAd", EntraScheme);
            builder.Services.Configure<JwtBearerOptions>(EntraScheme, o => o.Events.OnMessageReceived += AcceptHubQueryToken);
            authentication.AddMicrosoftIdentityWebApp(builder.Configuration, "AzureAd", EntraWebScheme, EntraCookieScheme);
            var development = builder.Environment.IsDevelopment();
            builder.Services.Configure<OpenIdConnectOptions>(EntraWebScheme, o =>
            {
                o.MapInboundClaims = false;
                o.TokenValidationParameters.NameClaimType = ActorClaims.Name;
                o.TokenValidationParameters.RoleClaimType = ActorClaims.Roles;
                o.RequireHttpsMetadata = !development;
            });
        }

        // People signing in to the inbox get a cookie (ASP.NET Core Identity); APIs answer 401/403, never a redirect.
        authentication.AddIdentityCookies(o => o.ApplicationCookie?.Configure(c =>
        {
            c.LoginPath = "/signin";
            c.AccessDeniedPath = "/forbidden";
            c.Cookie.Name = "approval-studio";
            c.Cookie.SameSite = SameSiteMode.Lax;
            c.ExpireTimeSpan = TimeSpan.FromHours(12);
            c.SlidingExpiration = true;
            c.Events.OnRedirectToLogin = context => Answer(context, StatusCodes.Status401Unauthorized);
            c.Events.OnRedirectToAccessDenied = context => Answer(context, StatusCodes.Status403Forbidden);
        }));
        authentication.AddScheme<AuthenticationSchemeOptions, ApiKeyHandler>(ApiKeyAuthentication.Scheme, null);
        authentication.AddPolicyScheme(SelectorScheme, "API key, bearer token or inbox cookie", o => o.ForwardDefaultSelector = context =>
        {
            if (ApiKeyAuthentication.KeyIn(context.Request) is not null)
            {
                return ApiKeyAuthentication.Scheme;
            }

            var raw = BearerToken(context.Request);
            if (raw is null)
            {
                return entra && context.Request.Cookies.ContainsKey(EntraCookieName) ? EntraCookieScheme : IdentityConstants.ApplicationScheme;
            }

            var handler = new JsonWebTokenHandler();
            return entra && handler.CanReadToken(raw) && handler.ReadJsonWebToken(raw).Issuer != LocalAuthOptions.Issuer ? EntraScheme : LocalScheme;
        });

        builder.Services.AddIdentityCore<AppUser>(o =>
            {
                o.Lockout.MaxFailedAccessAttempts = 5;
                o.Lockout.DefaultLockoutTimeSpan = TimeSpan.FromMinutes(5);
                o.User.RequireUniqueEmail = false;
                o.Password.RequiredLength = 8;
            })
            .AddEntityFrameworkStores<AppDbContext>()
            .AddSignInManager()
            .AddClaimsPrincipalFactory<ActorClaimsFactory>();

        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(Policies.Member, p => p.RequireAuthenticatedUser().RequireAssertion(c => Actor.From(c.User) is not null))
            .AddPolicy(Policies.Admin, p => p.RequireAuthenticatedUser().RequireAssertion(c => Actor.From(c.User)?.IsAdmin == true));
        return builder;
    }
}

public static partial class AuthExtensions
{
    private static readonly string[] ApiPrefixes = ["/api", "/hubs", "/v1", "/workflows", "/integrations"];

    /// <summary>The cookie of an Entra sign-in (the cookie handler's default name for its scheme).</summary>
    public const string EntraCookieName = ".AspNetCore." + EntraCookieScheme;

    public static bool IsEntraConfigured(IConfiguration configuration) => !string.IsNullOrWhiteSpace(configuration["AzureAd:ClientId"]);

    private static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return header["Bearer ".Length..].Trim();
        }

        var query = request.Query["access_token"].ToString();
        return query.Length > 0 && request.Path.StartsWithSegments("/hubs") ? query : null;
    }

    // WebSockets and server-sent events cannot send headers: accept ?access_token= on the hubs.
    private static Task AcceptHubQueryToken(Microsoft.AspNetCore.Authentication.JwtBearer.MessageReceivedContext context)
    {
        var token = context.Request.Query["access_token"];
        if (!string.IsNullOrEmpty(token) && context.HttpContext.Request.Path.StartsWithSegments("/hubs"))
        {
            context.Token = token;
        }

        return Task.CompletedTask;
    }

    private static Task Answer(Microsoft.AspNetCore.Authentication.RedirectContext<Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationOptions> context, int status)
    {
        if (ApiPrefixes.Any(p => context.Request.Path.StartsWithSegments(p)))
        {
            context.Response.StatusCode = status;
        }
        else
        {
            context.Response.Redirect(context.RedirectUri);
        }

        return Task.CompletedTask;
    }
}

public static class Policies
{
    /// <summary>An authenticated actor with a tenant.</summary>
    public const string Member = "member";

    /// <summary>An actor with the <c>admin</c> role (manages workflow definitions).</summary>
    public const string Admin = "admin";
}
