using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Errors;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Infrastructure.Security;

/// <summary>
/// Token buckets per caller, from the <c>RateLimits</c> section: API routes (resume dialects included) per tenant and
/// actor, and the routes anyone may call (sign-in, deep-link pages, the webhook, Slack) per client address. A call over
/// the limit is a 429 with <c>Retry-After</c> (problem+json; a small page for a browser) and changes nothing.
/// </summary>
public static class RateLimits
{
    public const string SectionName = "RateLimits";

    /// <summary>Authenticated API routes and the hub: one bucket per tenant and actor (user or API key); unauthenticated calls per address.</summary>
    public const string Api = "api";

    public const string SignIn = "sign-in";

    public const string DeepLinks = "deep-links";

    public const string Webhooks = "webhooks";

    public const string Slack = "slack";

    public static IHostApplicationBuilder AddRateLimits(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration(SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddRateLimiter(_ => { });
        builder.Services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitOptions>>((o, limits) =>
        {
            var settings = limits.Value;
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = RejectAsync;
            o.AddPolicy(Api, context => ByActor(context, settings.Enabled, settings.Api));
            o.AddPolicy(SignIn, context => ByAddress(context, SignIn, settings.Enabled, settings.SignIn));
            o.AddPolicy(DeepLinks, context => ByAddress(context, DeepLinks, settings.Enabled, settings.DeepLinks));
            o.AddPolicy(Webhooks, context => ByAddress(context, Webhooks, settings.Enabled, settings.Webhooks));
            o.AddPolicy(Slack, context => ByAddress(context, Slack, settings.Enabled, settings.Slack));
        });
        return builder;
    }

    private static RateLimitPartition<string> ByActor(HttpContext context, bool enabled, RateLimitRule rule)
    {
        var actor = Actor.From(context.User);
        return actor is null
            ? ByAddress(context, Api, enabled, rule)
            : Bucket($"{Api}|{actor.TenantId}|{actor.UserId}", enabled, rule);
    }

    private static RateLimitPartition<string> ByAddress(HttpContext context, string policy, bool enabled, RateLimitRule rule) =>
        Bucket($"{policy}|{ClientAddress(context)}", enabled, rule);

    private static RateLimitPartition<string> Bucket(string key, bool enabled, RateLimitRule rule) => enabled
        ? RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = rule.TokenLimit,
            TokensPerPeriod = rule.TokensPerPeriod,
            ReplenishmentPeriod = rule.Period,
            QueueLimit = 0,
            AutoReplenishment = true,
        })
        : RateLimitPartition.GetNoLimiter(key);

    // IPv4 callers arriving on a dual-stack socket count as their IPv4 address; a caller without one shares one bucket.
    private static string ClientAddress(HttpContext context) => context.Connection.RemoteIpAddress switch
    {
        { IsIPv4MappedToIPv6: true } mapped => mapped.MapToIPv4().ToString(),
        IPAddress address => address.ToString(),
        null => "unknown",
    };

    private static async ValueTask RejectAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var context = rejected.HttpContext;
        var seconds = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
            ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))
            : 1;
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        var detail = $"Too many requests from you; try again in {seconds} second{(seconds == 1 ? "" : "s")}.";
        if (BrowserPages.AcceptsHtml(context))
        {
            // A person's browser (a deep-link page, the sign-in form): a page to read, not JSON.
            context.Response.ContentType = "text/html; charset=utf-8";
            await context.Response.WriteAsync(
                $"""
                 <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Too many requests</title>
                 <meta name="viewport" content="width=device-width, initial-scale=1"></head>
                 <body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem">
                 <h1>Too many requests</h1><p>{detail} Then reload this page.</p></body></html>
                 """, cancellationToken);
            return;
        }

        await Problems.Status(StatusCodes.Status429TooManyRequests, "Too many requests.", detail,
            new Dictionary<string, object?> { ["retryAfter"] = seconds }).ExecuteAsync(context);
    }
}

/// <summary>The <c>RateLimits</c> section: one token bucket per caller and group of routes.</summary>
public sealed class RateLimitOptions : IValidatableObject
{
    /// <summary>Off only where something in front of the app limits already (or for a load test).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>API routes and the hub, per tenant and actor: bursts of 1000, 200 more per second.</summary>
    [Required]
    public RateLimitRule Api { get; set; } = new() { TokenLimit = 1000, TokensPerPeriod = 200, Period = TimeSpan.FromSeconds(1) };

    /// <summary>Sign-in form posts, per client address: 20, then 20 more per minute (accounts also lock after 5 failures).</summary>
    [Required]
    public RateLimitRule SignIn { get; set; } = new() { TokenLimit = 20, TokensPerPeriod = 20, Period = TimeSpan.FromMinutes(1) };

    /// <summary>Deep-link pages, per client address: 60, then 60 more per minute.</summary>
    [Required]
    public RateLimitRule DeepLinks { get; set; } = new() { TokenLimit = 60, TokensPerPeriod = 60, Period = TimeSpan.FromMinutes(1) };

    /// <summary>Webhook-secret resumes, per client address: bursts of 600, 100 more per second.</summary>
    [Required]
    public RateLimitRule Webhooks { get; set; } = new() { TokenLimit = 600, TokensPerPeriod = 100, Period = TimeSpan.FromSeconds(1) };

    /// <summary>Slack interactions, per client address (Slack's own): bursts of 600, 100 more per second.</summary>
    [Required]
    public RateLimitRule Slack { get; set; } = new() { TokenLimit = 600, TokensPerPeriod = 100, Period = TimeSpan.FromSeconds(1) };

    // Data annotations do not reach into nested objects: each rule is checked here, under its own name.
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) =>
        new (string Name, RateLimitRule Rule)[] { (nameof(Api), Api), (nameof(SignIn), SignIn), (nameof(DeepLinks), DeepLinks), (nameof(Webhooks), Webhooks), (nameof(Slack), Slack) }
            .SelectMany(r => r.Rule.Problems().Select(p => new ValidationResult($"{RateLimits.SectionName}:{r.Name}:{p.Member} {p.Message}", [$"{r.Name}.{p.Member}"])));
}

/// <summary>A token bucket: <see cref="TokenLimit"/> calls at once, refilled by <see cref="TokensPerPeriod"/> every <see cref="Period"/>.</summary>
public sealed class RateLimitRule
{
    public int TokenLimit { get; set; }

    public int TokensPerPeriod { get; set; }

    public TimeSpan Period { get; set; }

    internal IEnumerable<(string Member, string Message)> Problems()
    {
        if (TokenLimit < 1)
        {
            yield return (nameof(TokenLimit), "must be at least 1.");
        }

        if (TokensPerPeriod < 1)
        {
            yield return (nameof(TokensPerPeriod), "must be at least 1.");
        }

        if (Period <= TimeSpan.Zero)
        {
            yield return (nameof(Period), "must be positive (e.g. 00:00:01).");
        }
    }
}
