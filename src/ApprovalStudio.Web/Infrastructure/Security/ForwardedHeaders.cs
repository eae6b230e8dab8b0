using System.ComponentModel.DataAnnotations;
using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Infrastructure.Security;

/// <summary>
/// The <c>ForwardedHeaders</c> section: behind a reverse proxy or load balancer that terminates TLS, the app reads the
/// client's address, scheme and host from <c>X-Forwarded-For</c>, <c>X-Forwarded-Proto</c> and <c>X-Forwarded-Host</c>,
/// (the host only when <see cref="ForwardedHeadersSettings.AllowedHosts"/> names it), but only from the proxies named here (and loopback): redirects and links get the public scheme and host, cookies
/// their Secure flag, and rate limits count each client rather than the proxy. Off by default: a server reached
/// directly must not believe a client that sends these headers itself.
/// </summary>
public sealed class ForwardedHeadersSettings : IValidatableObject
{
    public const string SectionName = "ForwardedHeaders";

    public bool Enabled { get; set; }

    /// <summary>Addresses of the proxies whose headers count (loopback always does).</summary>
    public string[] KnownProxies { get; set; } = [];

    /// <summary>Networks of such proxies, in CIDR notation (<c>10.0.0.0/8</c>).</summary>
    public string[] KnownNetworks { get; set; } = [];

    /// <summary>
    /// The public host names the proxy may announce in <c>X-Forwarded-Host</c>; empty: that header is not read (the
    /// request's own Host is kept), so no client can make the app build links to a host of its choosing.
    /// </summary>
    public string[] AllowedHosts { get; set; } = [];

    /// <summary>How many proxies deep the chain is: the entries of <c>X-Forwarded-For</c> read from the right.</summary>
    [Range(1, 10)]
    public int ForwardLimit { get; set; } = 1;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var proxy in KnownProxies.Where(p => !IPAddress.TryParse(p, out _)))
        {
            yield return new ValidationResult($"ForwardedHeaders:KnownProxies: '{proxy}' is not an IP address.", [nameof(KnownProxies)]);
        }

        foreach (var network in KnownNetworks.Where(n => !System.Net.IPNetwork.TryParse(n, out _)))
        {
            yield return new ValidationResult($"ForwardedHeaders:KnownNetworks: '{network}' is not a network in CIDR notation (10.0.0.0/8).", [nameof(KnownNetworks)]);
        }
    }
}

public static class ForwardedHeadersSetup
{
    public static IHostApplicationBuilder AddForwardedHeaders(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ForwardedHeadersSettings>().BindConfiguration(ForwardedHeadersSettings.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<ForwardedHeadersSettings>>((o, settings) =>
        {
            var s = settings.Value;
            o.ForwardedHeaders = Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedFor
                | Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedProto;
            if (s.AllowedHosts.Length > 0)
            {
                o.ForwardedHeaders |= Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedHost;
                o.AllowedHosts = [.. s.AllowedHosts];
            }
            o.ForwardLimit = s.ForwardLimit;
            foreach (var proxy in s.KnownProxies)
            {
                o.KnownProxies.Add(IPAddress.Parse(proxy));
            }

            foreach (var network in s.KnownNetworks)
            {
                o.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
            }
        });
        return builder;
    }

    /// <summary>First in the pipeline, when enabled: everything after it sees the client's address, scheme and host.</summary>
    public static IApplicationBuilder UseForwardedHeadersWhenEnabled(this IApplicationBuilder app) =>
        app.ApplicationServices.GetRequiredService<IOptions<ForwardedHeadersSettings>>().Value.Enabled ? app.UseForwardedHeaders() : app;
}
