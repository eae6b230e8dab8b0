using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Auth;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.Tokens;

namespace ApprovalStudio.Testing;

/// <summary>
/// The real app on a real Kestrel port over a real database, with tokens from the same local issuer.
/// </summary>
public sealed class AppHost : IAsyncDisposable
{
    public const string Tenant = "acme";

    private readonly Factory _factory;
    private readonly bool _ownsDatabase;

    private AppHost(Factory factory, ApiAnswers answers, TestDatabase database, bool ownsDatabase, string signingKey, Uri address)
    {
        _factory = factory;
        Answers = answers;
        _ownsDatabase = ownsDatabase;
        Database = database;
        SigningKey = signingKey;
        Address = address;
        Tokens = new TokenIssuer(new SymmetricSecurityKey(Convert.FromBase64String(signingKey)), TimeProvider.System);
        Anonymous = new HttpClient { BaseAddress = address };
    }

    public TestDatabase Database { get; }

    /// <summary>What this host answered, checked against its OpenAPI document when it stops.</summary>
    public ApiAnswers Answers { get; }
    public string SigningKey { get; }
    public Uri Address { get; }
    public TokenIssuer Tokens { get; }
    public HttpClient Anonymous { get; }
    public IServiceProvider Services => _factory.Services;

    public static async Task<AppHost> StartAsync(
        Provider provider = Provider.Sqlite, IDictionary<string, string?>? settings = null, TestDatabase? database = null, string? signingKey = null,
        Action<IServiceCollection>? services = null, int port = 0)
    {
        var ownsDatabase = database is null;
        database ??= TestDatabase.Create(provider);
        signingKey ??= NewSigningKey();
        var all = database.Settings();
        all["Auth:Local:SigningKey"] = signingKey;
        all["App:SeedDemoData"] = "false";
        all["Workflows:Worker:PollInterval"] = "00:00:00.100";
        all["Workflows:Worker:BaseBackoff"] = "00:00:00.100";
        // A collector named in this machine's environment is not the tests' business (TelemetryTests turn tracing on).
        all["Telemetry:Tracing"] = "false";
        all["OTEL_EXPORTER_OTLP_ENDPOINT"] = "";
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        var answers = new ApiAnswers();
        var factory = new Factory(all, s =>
        {
            answers.Install(s);
            services?.Invoke(s);
        });
        factory.UseKestrel(o => o.Listen(IPAddress.Loopback, port));
        await Task.Run(factory.StartServer);
        var address = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new AppHost(factory, answers, database, ownsDatabase, signingKey, new Uri(address));
    }

    public static string NewSigningKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));

    public string Token(string user, string[]? groups = null, string[]? roles = null, string tenant = Tenant, TimeSpan? lifetime = null) =>
        Tokens.Issue(new TokenRequest(tenant, user) { Groups = groups ?? [], Roles = roles ?? [], Lifetime = lifetime ?? TimeSpan.FromHours(1) });

    public HttpClient Client(string token) => BearerClient(Address, token);

    /// <summary>A token of the local issuer that signs with <paramref name="signingKey"/>: for an app in a child process (AppProcess).</summary>
    public static string IssueToken(string signingKey, string user, string[]? groups = null, string[]? roles = null) =>
        new TokenIssuer(new SymmetricSecurityKey(Convert.FromBase64String(signingKey)), TimeProvider.System)
            .Issue(new TokenRequest(Tenant, user) { Groups = groups ?? [], Roles = roles ?? [] });

    /// <summary>A client of <paramref name="address"/> that sends <paramref name="token"/>.</summary>
    public static HttpClient BearerClient(Uri address, string token)
    {
        var client = new HttpClient { BaseAddress = address };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public HttpClient Admin(string tenant = Tenant) => Client(Token("admin", roles: ["admin"], tenant: tenant));

    public async Task<string> CreateWorkflowAsync(string json, string tenant = Tenant)
    {
        using var response = await Admin(tenant).PostAsync("/api/workflows", Json(json));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"create workflow: {(int)response.StatusCode} {body}");
        return JsonNode.Parse(body)!["key"]!.GetValue<string>();
    }

    public async Task<string> StartRunAsync(string key, string input = "{}", string tenant = Tenant)
    {
        using var response = await Client(Token("starter", tenant: tenant)).PostAsync($"/api/workflows/{key}/executions", Json($$"""{"input":{{input}}}"""));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"start: {(int)response.StatusCode} {body}");
        return JsonNode.Parse(body)!["executionId"]!.GetValue<string>();
    }

    public Task<JsonObject> StatusAsync(string executionId, string tenant = Tenant) => GetStatusAsync(Address, Token("reader", tenant: tenant), executionId);

    /// <summary>Polls the status route until <paramref name="until"/> holds (or fails after <paramref name="timeout"/>).</summary>
    public Task<JsonObject> WaitForAsync(string executionId, Func<JsonObject, bool> until, TimeSpan? timeout = null, string tenant = Tenant) =>
        WaitForAsync(Address, Token("reader", tenant: tenant), executionId, until, timeout);

    public async Task<string> WaitForTaskAsync(string executionId, string? nodeId = null, string tenant = Tenant)
    {
        var status = await WaitForAsync(executionId, s => s["waiting"]!.AsArray().Any(w => nodeId is null || (string?)w!["nodeId"] == nodeId), tenant: tenant);
        return (string)status["waiting"]!.AsArray().First(w => nodeId is null || (string?)w!["nodeId"] == nodeId)!["resId"]!;
    }

    public static async Task<JsonObject> GetStatusAsync(Uri address, string token, string executionId)
    {
        using var client = new HttpClient { BaseAddress = address };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var text = await client.GetStringAsync($"/api/executions/{executionId}/status");
        return JsonNode.Parse(text)!.AsObject();
    }

    public static async Task<JsonObject> WaitForAsync(Uri address, string token, string executionId, Func<JsonObject, bool> until, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        JsonObject? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await GetStatusAsync(address, token, executionId);
                if (until(last))
                {
                    return last;
                }
            }
            catch (HttpRequestException)
            {
                // The server may still be starting.
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"Run {executionId} never reached the expected state; last status: {last?.ToJsonString()}");
    }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static async Task<(HttpStatusCode Status, JsonNode? Body, string? ContentType)> SendAsync(HttpClient client, HttpMethod method, string url, string? json = null)
    {
        using var request = new HttpRequestMessage(method, url) { Content = json is null ? null : Json(json) };
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, string.IsNullOrWhiteSpace(text) ? null : JsonNode.Parse(text), response.Content.Headers.ContentType?.MediaType);
    }

    private int _disposed;

    /// <summary>
    /// Stops the app (a test may do it early, to see what clients do when the server is gone); once. Fails when the app
    /// answered a status its OpenAPI document does not declare for that operation.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        var undocumented = await Answers.UndocumentedAsync(Anonymous);
        Anonymous.Dispose();
        await _factory.DisposeAsync();
        if (_ownsDatabase)
        {
            await Database.DisposeAsync();
        }

        Assert.True(undocumented.Count == 0, "The OpenAPI document is not the truth:\n" + string.Join("\n", undocumented));
    }

    private sealed class Factory(IDictionary<string, string?> settings, Action<IServiceCollection>? services) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }

            // A browser page left open keeps its SignalR/Blazor connection; stopping would wait the default 30 s for it.
            builder.ConfigureServices(s => s.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(3)));
            if (services is not null)
            {
                builder.ConfigureServices(services);
            }
        }
    }
}

public static class JsonExtensions
{
    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string url, string json) =>
        client.PostAsync(url, AppHost.Json(json));

    public static Task<JsonNode?> ReadJsonAsync(this HttpResponseMessage response) =>
        response.Content.ReadFromJsonAsync<JsonNode>();
}
