using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalStudio.Testing;

/// <summary>An HTTP endpoint on loopback (<c>POST /hook</c>) that answers 503 until it is told it is healthy.</summary>
public sealed class FlakyTarget(WebApplication app) : IAsyncDisposable
{
    private volatile bool _healthy;

    public bool Healthy
    {
        get => _healthy;
        set => _healthy = value;
    }

    public string? LastBody { get; private set; }

    public Uri Address => new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");

    public static async Task<FlakyTarget> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var target = new FlakyTarget(app);
        app.MapPost("/hook", async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            target.LastBody = await reader.ReadToEndAsync();
            return target.Healthy ? Results.Ok(new { received = true }) : Results.StatusCode(503);
        });
        await app.StartAsync();
        return target;
    }

    public ValueTask DisposeAsync() => app.DisposeAsync();
}
