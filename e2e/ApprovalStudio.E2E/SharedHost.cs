namespace ApprovalStudio.E2E;

/// <summary>
/// One app host for the tests of a class that need no host of their own (no clock, stand-in or setting of their own):
/// each test takes a tenant of its own, so that its workflows, people, tasks and counts are its alone. The host stops
/// when the class is done, and then checks what it answered against its OpenAPI document.
/// </summary>
public sealed class SharedHost : IAsyncLifetime
{
    private int _tenants;

    public AppHost Host { get; private set; } = null!;

    /// <summary>A tenant no other test of the class uses.</summary>
    public string NewTenant() => $"t{Interlocked.Increment(ref _tenants)}";

    public async Task InitializeAsync() => Host = await AppHost.StartAsync();

    public async Task DisposeAsync()
    {
        if (Host is not null)
        {
            await Host.DisposeAsync();
        }
    }
}
