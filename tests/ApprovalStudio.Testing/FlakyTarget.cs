using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ApprovalStudio.Testing;

/// <summary>An HTTP endpoint on loopback (<c>POST /hook</c>) that answers 503 until it is told it is healthy.</summary>
public sealed class FlakyTarget : IAsyncDisposable
{
    private LoopbackServer _server = null!;
    private volatile bool _healthy;

    public bool Healthy
    {
        get => _healthy;
        set => _healthy = value;
    }

    public string? LastBody { get; private set; }

    public Uri Address => _server.Address;

    public static async Task<FlakyTarget> StartAsync()
    {
        var target = new FlakyTarget();
        target._server = await LoopbackServer.StartAsync((app, _) => app.MapPost("/hook", async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            target.LastBody = await reader.ReadToEndAsync();
            return target.Healthy ? Results.Ok(new { received = true }) : Results.StatusCode(503);
        }));
        return target;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
