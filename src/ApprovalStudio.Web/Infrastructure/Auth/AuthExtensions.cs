using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Identity.Web;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ApprovalStudio.Web.Infrastructure.Auth;

public static class AuthExtensions
{
    public const string LocalScheme = JwtBearerDefaults.AuthenticationScheme;
    public const string EntraScheme = "AzureAd";
    private const string SelectorScheme = "BearerSelector";

    /// <summary>
    /// Bearer tokens from the local issuer always; Entra ID tokens too when <c>AzureAd:ClientId</c>
    /// is set (Microsoft.Identity.Web is not registered otherwise, so the app starts offline).
    /// </summary>
    public static IHostApplicationBuilder AddAuth(this IHostApplicationBuilder builder)
    {
        var dataDirectory = AppOptions.ResolveDataDirectory(builder.Configuration, builder.Environment.ContentRootPath);
        var key = SigningKeyStore.Resolve(builder.Configuration, dataDirectory);
        builder.Services.AddSingleton(sp => new TokenIssuer(key, sp.GetRequiredService<TimeProvider>()));

        var entra = !string.IsNullOrWhiteSpace(builder.Configuration["AzureAd:ClientId"]);
        var authentication = builder.Services.AddAuthentication(entra ? SelectorScheme : LocalScheme);
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
            o.Events = new JwtBearerEvents
            {
                // WebSockets and server-sent events cannot send headers: accept ?access_token= on the hubs.
                OnMessageReceived = context =>
                {
                    var token = context.Request.Query["access_token"];
                    if (!string.IsNullOrEmpty(token) && context.HttpContext.Request.Path.StartsWithSegments("/hubs"))
                    {
                        context.Token = token;
                    }

                    return Task.CompletedTask;
                },
            };
        });

        if (entra)
        {
            authentication.AddMicrosoftIdentityWebApi(builder.Configuration, "AzureAd", EntraScheme);
            authentication.AddPolicyScheme(SelectorScheme, "Local or Entra bearer", o => o.ForwardDefaultSelector = context =>
            {
                var header = context.Request.Headers.Authorization.ToString();
                if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
                {
                    var handler = new JsonWebTokenHandler();
                    var raw = header["Bearer ".Length..].Trim();
                    if (handler.CanReadToken(raw) && handler.ReadJsonWebToken(raw).Issuer != LocalAuthOptions.Issuer)
                    {
                        return EntraScheme;
                    }
                }

                return LocalScheme;
            });
        }

        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(Policies.Member, p => p.RequireAuthenticatedUser().RequireAssertion(c => Actor.From(c.User) is not null))
            .AddPolicy(Policies.Admin, p => p.RequireAuthenticatedUser().RequireAssertion(c => Actor.From(c.User)?.IsAdmin == true));
        return builder;
    }
}

public static class Policies
{
    /// <summary>An authenticated actor with a tenant.</summary>
    public const string Member = "member";

    /// <summary>An actor with the <c>admin</c> role (manages workflow definitions).</summary>
    public const string Admin = "admin";
}
