using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>
/// Decides which addresses an http node may connect to, and connects only to those: it is the connect callback of the
/// node's handler, so the check is on the address resolved and connected to (every redirect hop opens its own
/// connection through it), not on the URL's text.
/// </summary>
public sealed class OutboundGuard(IOptions<HttpNodeOptions> options)
{
    /// <summary>Blocked unless allowed: where internal services, the host itself and cloud metadata live.</summary>
    private static readonly (IPNetwork Network, string Why)[] Blocked =
    [
        (IPNetwork.Parse("0.0.0.0/8"), "the unspecified network"),
        (IPNetwork.Parse("10.0.0.0/8"), "a private network"),
        (IPNetwork.Parse("100.64.0.0/10"), "the shared (carrier-grade NAT) network"),
        (IPNetwork.Parse("127.0.0.0/8"), "loopback"),
        (IPNetwork.Parse("169.254.0.0/16"), "link-local (cloud metadata)"),
        (IPNetwork.Parse("172.16.0.0/12"), "a private network"),
        (IPNetwork.Parse("192.168.0.0/16"), "a private network"),
        (IPNetwork.Parse("224.0.0.0/4"), "multicast"),
        (IPNetwork.Parse("240.0.0.0/4"), "reserved or broadcast"),
        (IPNetwork.Parse("::/128"), "the unspecified address"),
        (IPNetwork.Parse("::1/128"), "loopback"),
        (IPNetwork.Parse("fc00::/7"), "a unique-local network"),
        (IPNetwork.Parse("fe80::/10"), "link-local"),
        (IPNetwork.Parse("ff00::/8"), "multicast"),
    ];

    private readonly IPNetwork[] _allowed = [.. options.Value.AllowedNetworks.Select(n => IPNetwork.Parse(n))];
    private readonly HashSet<string> _allowedHosts = new(options.Value.AllowedHosts, StringComparer.OrdinalIgnoreCase);

    /// <summary>Why <paramref name="address"/> may not be reached from <paramref name="host"/>, or null when it may.</summary>
    public string? Refusal(string host, IPAddress address)
    {
        if (_allowedHosts.Contains(host))
        {
            return null;
        }

        // ::ffff:127.0.0.1 is 127.0.0.1.
        var plain = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        if (_allowed.Any(n => n.Contains(plain)))
        {
            return null;
        }

        foreach (var (network, why) in Blocked)
        {
            if (network.BaseAddress.AddressFamily == plain.AddressFamily && network.Contains(plain))
            {
                return $"{plain} is {why}; http nodes may not connect there unless {HttpNodeOptions.SectionName}:AllowedNetworks or AllowedHosts says so.";
            }
        }

        return null;
    }

    /// <summary>SocketsHttpHandler's ConnectCallback: resolve, drop what is refused, connect to the first that answers.</summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
        string? refusal = null;
        Exception? failure = null;
        foreach (var address in addresses)
        {
            if (Refusal(host, address) is { } why)
            {
                refusal ??= why;
                continue;
            }

            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                failure = ex;
            }
        }

        throw refusal is not null && failure is null
            ? new HttpRequestException(HttpRequestError.ConnectionError, $"Refused: {refusal}")
            : new HttpRequestException(HttpRequestError.ConnectionError, $"Could not connect to {host}: {failure?.Message ?? "no address"}", failure);
    }
}
