using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.Account;

/// <summary>Local sign-in and sign-out for the inbox: form posts (antiforgery-checked) that set or clear the cookie.</summary>
public static class AccountFeature
{
    public static IEndpointRouteBuilder MapAccount(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/account").ExcludeFromDescription();
        group.MapPost("/signin", SignIn).RequireRateLimiting(RateLimits.SignIn);
        group.MapPost("/signout", SignOut);
        group.MapGet("/entra", (string? returnUrl, IConfiguration configuration) => AuthExtensions.IsEntraConfigured(configuration)
            ? Results.Challenge(new AuthenticationProperties { RedirectUri = SafeReturnUrl(returnUrl) }, [AuthExtensions.EntraWebScheme])
            : Results.NotFound());
        return app;
    }

    private static async Task<IResult> SignIn(
        [FromForm] string? userName, [FromForm] string? password, [FromForm] string? returnUrl,
        SignInManager<AppUser> signIn, AppDbContext db, CancellationToken cancellationToken)
    {
        var back = SafeReturnUrl(returnUrl);
        if (string.IsNullOrWhiteSpace(userName) || string.IsNullOrEmpty(password))
        {
            return Failed("missing", back);
        }

        var user = await FindAsync(db, userName.Trim(), cancellationToken);
        if (user is null)
        {
            // As much work as a known name's wrong password, so the time taken does not tell either.
            signIn.UserManager.PasswordHasher.VerifyHashedPassword(Nobody, NobodysHash.Value, password);
            return Failed("invalid", back);
        }

        var result = await signIn.PasswordSignInAsync(user, password, isPersistent: false, lockoutOnFailure: true);
        if (result.Succeeded)
        {
            return Results.LocalRedirect(back);
        }

        // A locked account is answered like a wrong password or an unknown name: saying "locked" would tell
        // whoever guesses names which ones exist. The sign-in page's one message mentions the lockout.
        return Failed("invalid", back);
    }

    private static readonly AppUser Nobody = new() { TenantId = string.Empty, UserId = string.Empty, DisplayName = string.Empty };

    private static readonly Lazy<string> NobodysHash = new(() => new PasswordHasher<AppUser>().HashPassword(Nobody, Guid.NewGuid().ToString("N")));

    private static async Task<IResult> SignOut(SignInManager<AppUser> signIn, HttpContext context, IConfiguration configuration)
    {
        await signIn.SignOutAsync();
        if (AuthExtensions.IsEntraConfigured(configuration) && context.Request.Cookies.ContainsKey(AuthExtensions.EntraCookieName))
        {
            await context.SignOutAsync(AuthExtensions.EntraCookieScheme);
        }

        return Results.LocalRedirect("/signin");
    }

    /// <summary><c>name@tenant</c> exactly, or <c>name</c> when exactly one tenant has it.</summary>
    private static async Task<AppUser?> FindAsync(AppDbContext db, string userName, CancellationToken cancellationToken)
    {
        if (userName.Contains('@', StringComparison.Ordinal))
        {
            var normalized = userName.ToUpperInvariant();
            return await db.Users.SingleOrDefaultAsync(u => u.NormalizedUserName == normalized, cancellationToken);
        }

        var matches = await db.Users.Where(u => u.UserId == userName).OrderBy(u => u.Id).Take(2).ToListAsync(cancellationToken);
        return matches.Count == 1 ? matches[0] : null;
    }

    private static IResult Failed(string reason, string returnUrl) =>
        Results.LocalRedirect($"/signin?error={reason}&returnUrl={Uri.EscapeDataString(returnUrl)}");

    private static string SafeReturnUrl(string? returnUrl) =>
        !string.IsNullOrEmpty(returnUrl) && returnUrl.StartsWith('/') && !returnUrl.StartsWith("//", StringComparison.Ordinal) && !returnUrl.StartsWith("/\\", StringComparison.Ordinal)
            ? returnUrl
            : "/";
}
