using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalStudio.Testing;

/// <summary>A small HTTP server on a free loopback port that stands in for something the app calls.</summary>
public sealed class LoopbackServer(WebApplication app) : IAsyncDisposable
{
    /// <summary>The server's base address, ending in '/'.</summary>
    public Uri Address { get; } = new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");

    /// <summary>Starts a server whose routes <paramref name="map"/> adds; it is given the server's address.</summary>
    public static async Task<LoopbackServer> StartAsync(Action<WebApplication, Func<Uri>> map)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        LoopbackServer? server = null;
        map(app, () => server!.Address);
        await app.StartAsync();
        return server = new LoopbackServer(app);
    }

    public ValueTask DisposeAsync() => app.DisposeAsync();
}
