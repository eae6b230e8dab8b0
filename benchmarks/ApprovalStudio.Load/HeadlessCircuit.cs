using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApprovalStudio.Load;

/// <summary>
/// An open inbox without a browser: a signed-in page read over HTTP, then its Blazor Server circuit started over SignalR
/// the way blazor.web.js starts it (StartCircuit, then UpdateRootComponents with the page's component markers and persisted
/// state), every render batch acknowledged and every JS call answered. The server keeps the same circuit, component tree and
/// live updates as for a browser tab, so two hundred of them measure the server's cost of two hundred open inboxes without
/// two hundred renderers on the same two cores.
/// </summary>
public sealed partial class HeadlessCircuit : IAsyncDisposable
{
    private readonly HubConnection _connection;
    private long _batches;
    private long _bytes;
    private readonly TaskCompletionSource _firstBatch = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<string> _errors = new();

    private HeadlessCircuit(HubConnection connection) => _connection = connection;

    /// <summary>Render batches the server has sent (each acknowledged at once, as a browser does once it has applied it).</summary>
    public long Batches => Interlocked.Read(ref _batches);

    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>What went wrong in the circuit (JS.Error), or JS calls it made that this client cannot answer.</summary>
    public IReadOnlyCollection<string> Errors => _errors;

    /// <summary>Signs in with the local sign-in form and keeps the cookie for the pages and circuits that follow.</summary>
    public static async Task<CookieContainer> SignInAsync(Uri address, string user, string password)
    {
        var cookies = new CookieContainer();
        using var http = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = address };
        var form = await http.GetStringAsync("/signin");
        var token = AntiforgeryField().Match(form);
        if (!token.Success)
        {
            throw new InvalidOperationException("The sign-in page has no antiforgery field.");
        }

        using var answer = await http.PostAsync("/account/signin", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            [token.Groups["name"].Value] = WebUtility.HtmlDecode(token.Groups["value"].Value),
            ["userName"] = user,
            ["password"] = password,
            ["returnUrl"] = "/",
        }));
        if ((int)answer.StatusCode is < 300 or >= 400)
        {
            throw new InvalidOperationException($"Sign-in answered {(int)answer.StatusCode}, not a redirect.");
        }

        // A browser's window, so that the pages render one layout (see NarrowCookie).
        cookies.Add(address, new Cookie("narrow", "0"));
        return cookies;
    }

    /// <summary>Reads the page and starts its circuit; returns once the circuit has sent its first render batch.</summary>
    public static async Task<HeadlessCircuit> OpenAsync(Uri address, CookieContainer cookies, string path = "/", CancellationToken cancellationToken = default)
    {
        string html;
        using (var http = new HttpClient(new HttpClientHandler { CookieContainer = cookies }) { BaseAddress = address })
        {
            html = await http.GetStringAsync(path, cancellationToken);
        }

        // The interactive roots' start markers, in document order (their sequence numbers must arrive in that order), and
        // the state the prerender persisted for them.
        var markers = Marker().Matches(html).Select(m => JsonNode.Parse(m.Groups[1].Value)!.AsObject()).Where(m => m["type"] is not null).ToList();
        if (markers.Count == 0)
        {
            throw new InvalidOperationException($"{path} has no interactive component (signed out?).");
        }

        var state = PersistedState().Match(html) is { Success: true } found ? found.Groups[1].Value : string.Empty;

        var builder = new HubConnectionBuilder().WithUrl(new Uri(address, "_blazor"), options =>
        {
            options.Cookies = cookies;
            options.Transports = HttpTransportType.WebSockets;
        });
        builder.Services.AddSingleton<IHubProtocol>(new BlazorPack());
        if (Environment.GetEnvironmentVariable("INBOX_CIRCUIT_LOG") is { Length: > 0 })
        {
            // The SignalR client's own warnings: a message it could not bind (a server method's arguments changed) shows here.
            builder.ConfigureLogging(logging => logging.AddConsole().SetMinimumLevel(LogLevel.Warning));
        }

        var connection = builder.Build();
        var circuit = new HeadlessCircuit(connection);
        connection.On<long, byte[]>("JS.RenderBatch", circuit.OnRenderBatchAsync);
        connection.On("JS.BeginInvokeJS", JsCallArguments, circuit.OnBeginInvokeJSAsync, null!);
        connection.On<string>("JS.Error", error => circuit._errors.Enqueue(error));
        connection.On<int, string>("JS.AttachComponent", (_, _) => { }); // no DOM to attach to
        connection.On<long>("JS.EndUpdateRootComponents", _ => { });
        await connection.StartAsync(cancellationToken);

        var baseUri = address.ToString();
        var circuitId = await connection.InvokeAsync<string?>("StartCircuit", baseUri, new Uri(address, path).ToString(), "[]", state, cancellationToken);
        if (string.IsNullOrEmpty(circuitId))
        {
            throw new InvalidOperationException("The server refused to start the circuit.");
        }

        var operations = new JsonObject
        {
            ["batchId"] = 1,
            ["operations"] = new JsonArray([.. markers.Select((marker, i) => (JsonNode)new JsonObject
            {
                ["type"] = "add",
                ["ssrComponentId"] = i + 1,
                ["marker"] = marker,
            })]),
        };
        await connection.SendAsync("UpdateRootComponents", operations.ToJsonString(), state, cancellationToken);
        await circuit._firstBatch.Task.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
        return circuit;
    }

    private async Task OnRenderBatchAsync(long batchId, byte[] batch)
    {
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _bytes, batch.Length);
        await _connection.SendAsync("OnRenderCompleted", batchId, null);
        _firstBatch.TrySetResult();
    }

    /// <summary>
    /// The JS calls the app's pages make, answered as a desktop browser in light mode in UTC would (a call whose .NET side
    /// waits for a typed result needs one of that type; the rest are answered with no value).
    /// </summary>
    private static readonly Dictionary<string, string> Answers = new(StringComparer.Ordinal)
    {
        ["mudResizeListener.getBrowserWindowSize"] = """{"height":900,"width":1280}""",
        ["mudResizeListener.matchMedia"] = "false",
        ["approvalStudio.timeZone"] = "\"UTC\"",
        ["approvalStudio.watchNarrow"] = "1", // the watcher's handle; a desktop's window, as the narrow cookie already said
        ["approvalStudio.isDark"] = "false",
    };

    // JS.BeginInvokeJS(asyncHandle, identifier, argsJson, resultType, targetInstanceId, callType).
    private static readonly Type[] JsCallArguments = [typeof(long), typeof(string), typeof(string), typeof(int), typeof(long), typeof(int)];

    private async Task OnBeginInvokeJSAsync(object?[] arguments, object state)
    {
        var handle = Convert.ToInt64(arguments[0], CultureInfo.InvariantCulture);
        var identifier = (string)arguments[1]!;
        if (handle == 0)
        {
            return; // fire and forget
        }

        var result = Answers.GetValueOrDefault(identifier, "null");
        if (identifier.Contains("DarkMode", StringComparison.OrdinalIgnoreCase) || identifier.Contains("darkTheme", StringComparison.OrdinalIgnoreCase))
        {
            result = "false";
        }

        await _connection.SendAsync("EndInvokeJSFromDotNet", handle, true, $"[{handle},true,{result}]");
    }

    public async ValueTask DisposeAsync() => await _connection.DisposeAsync();

    [GeneratedRegex("""<input name="(?<name>__RequestVerificationToken)" type="hidden" value="(?<value>[^"]*)"|<input type="hidden" name="(?<name>__RequestVerificationToken)" value="(?<value>[^"]*)""")]
    private static partial Regex AntiforgeryField();

    [GeneratedRegex("<!--Blazor:(\\{.*?\\})-->", RegexOptions.Singleline)]
    private static partial Regex Marker();

    [GeneratedRegex("<!--Blazor-Server-Component-State:(.*?)-->", RegexOptions.Singleline)]
    private static partial Regex PersistedState();

    /// <summary>The SignalR MessagePack protocol under the name Blazor's hub accepts (what blazor.web.js does to its own).</summary>
    private sealed class BlazorPack : IHubProtocol
    {
        private readonly MessagePackHubProtocol _inner = new();

        public string Name => "blazorpack";

        public int Version => _inner.Version;

        public TransferFormat TransferFormat => TransferFormat.Binary;

        public bool IsVersionSupported(int version) => _inner.IsVersionSupported(version);

        public bool TryParseMessage(ref ReadOnlySequence<byte> input, IInvocationBinder binder, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out HubMessage? message) =>
            _inner.TryParseMessage(ref input, binder, out message);

        public void WriteMessage(HubMessage message, IBufferWriter<byte> output) => _inner.WriteMessage(message, output);

        public ReadOnlyMemory<byte> GetMessageBytes(HubMessage message) => _inner.GetMessageBytes(message);
    }
}
