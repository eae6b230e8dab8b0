using System.ComponentModel.DataAnnotations;
using System.Net;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>
/// The <c>Workflows:Http</c> section: where an <c>http</c> node may connect and how much it may take. By default no
/// loopback, link-local (cloud metadata), private, unique-local, shared (CGNAT), multicast or unspecified address —
/// checked on the address actually connected to, so a hostname or a redirect that leads there is refused too.
/// </summary>
public sealed class HttpNodeOptions
{
    public const string SectionName = "Workflows:Http";

    /// <summary>Networks (CIDR, e.g. <c>10.20.0.0/16</c>, <c>127.0.0.1/32</c>) an http node may reach although they are blocked by default.</summary>
    public List<string> AllowedNetworks { get; set; } = [];

    /// <summary>Host names an http node may reach whatever they resolve to (an internal service by name).</summary>
    public List<string> AllowedHosts { get; set; } = [];

    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A larger response body fails the node (it would be stored in the run).</summary>
    [Range(1, 64 * 1024 * 1024)]
    public int MaxResponseBytes { get; set; } = 1024 * 1024;

    [Range(0, 20)]
    public int MaxRedirects { get; set; } = 5;
}

public sealed class HttpNodeOptionsValidator : IValidateOptions<HttpNodeOptions>
{
    public ValidateOptionsResult Validate(string? name, HttpNodeOptions options)
    {
        var bad = options.AllowedNetworks.Where(n => !IPNetwork.TryParse(n, out _)).ToList();
        return bad.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"{HttpNodeOptions.SectionName}:AllowedNetworks has entries that are not CIDR networks (like 10.0.0.0/8): {string.Join(", ", bad)}.");
    }
}
