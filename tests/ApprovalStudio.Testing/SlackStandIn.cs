using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Slack;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace ApprovalStudio.Testing;

/// <summary>
/// A local HTTP server in Slack's place: <c>chat.postMessage</c> under <see cref="ApiBaseUrl"/> (checks the bot
/// token, answers like Slack) and response URLs under <see cref="ResponseUrl"/>; it keeps what it received.
/// </summary>
public sealed class SlackStandIn : IAsyncDisposable
{
    public const string BotToken = "xoxb-test-bot-token";
    public const string SigningSecret = "8f742231b10e8888abcd99yyyzzz85a5";

    private readonly LoopbackServer _server;
    private int posts;

    private SlackStandIn(LoopbackServer server) => _server = server;

    /// <summary>Messages posted with chat.postMessage, as Slack received them.</summary>
    public ConcurrentQueue<JsonObject> Posted { get; } = new();

    /// <summary>chat.update calls, as Slack received them.</summary>
    public ConcurrentQueue<JsonObject> Updated { get; } = new();

    /// <summary>Posts to response URLs: (the URL's id, the body). An id starting with "slow-" takes 5 s to answer.</summary>
    public ConcurrentQueue<(string Id, JsonObject Body)> Responses { get; } = new();

    /// <summary>When above zero, chat.postMessage answers 503 and counts down (Slack is down).</summary>
    public int FailNextPosts;

    /// <summary>How many times the app opened a DM to look for a message it may have posted (conversations.open).</summary>
    public int Lookups;

    /// <summary>conversations.history answers 503 this many more times.</summary>
    public int FailNextLookups;

    /// <summary>A post to this channel is held — a message still on its way — until <see cref="ReleaseHeldPost"/> completes.</summary>
    public string? HoldPostsTo { get; set; }

    /// <summary>Completes when a post to <see cref="HoldPostsTo"/> has arrived (and is being held).</summary>
    public TaskCompletionSource HeldPostArrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource ReleaseHeldPost { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Uri ApiBaseUrl => new(_server.Address, "api/");

    public string ResponseUrl(string id) => new Uri(_server.Address, $"responses/{id}").ToString();

    public static async Task<SlackStandIn> StartAsync()
    {
        SlackStandIn? standIn = null;
        var server = await LoopbackServer.StartAsync((app, _) =>
        {
            // Slack's Web API answers 200 with ok=false when the token is wrong.
            var api = app.MapGroup("/api").AddEndpointFilter(async (context, next) =>
                context.HttpContext.Request.Headers.Authorization.ToString() == $"Bearer {BotToken}"
                    ? await next(context)
                    : Results.Json(new { ok = false, error = "invalid_auth" }));
            api.MapPost("/chat.postMessage", async (HttpRequest request) =>
            {
                if (Interlocked.Decrement(ref standIn!.FailNextPosts) >= 0)
                {
                    return Results.StatusCode(503);
                }

                var body = (await JsonNode.ParseAsync(request.Body))!.AsObject();
                if (standIn!.HoldPostsTo is { } held && (string?)body["channel"] == held)
                {
                    standIn.HeldPostArrived.TrySetResult();
                    await standIn.ReleaseHeldPost.Task;
                }

                var ts = $"{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}.{Interlocked.Increment(ref standIn.posts):000000}";
                body["ts"] = ts; // What Slack answered, kept beside what it received.
                standIn.Posted.Enqueue(body);
                return Results.Json(new { ok = true, channel = (string?)body["channel"], ts });
            });
            // A user's DM is "D" + their id here; its history is what was posted to them, newest first, metadata and all.
            api.MapPost("/conversations.open", async (HttpRequest request) =>
            {
                var form = await request.ReadFormAsync();
                Interlocked.Increment(ref standIn!.Lookups);
                return Results.Json(new { ok = true, channel = new { id = $"D{form["users"]}" } });
            });
            api.MapPost("/conversations.history", async (HttpRequest request) =>
            {
                if (Interlocked.Decrement(ref standIn!.FailNextLookups) >= 0)
                {
                    return Results.StatusCode(503);
                }

                var form = await request.ReadFormAsync();
                var channel = form["channel"].ToString();
                var user = channel.StartsWith('D') ? channel[1..] : channel;
                var oldest = double.Parse(form["oldest"].ToString() is { Length: > 0 } o ? o : "0", System.Globalization.CultureInfo.InvariantCulture);
                var limit = int.TryParse(form["limit"], out var l) ? Math.Clamp(l, 1, 999) : 100;
                var from = int.TryParse(form["cursor"], out var c) ? c : 0; // the cursor is an offset here
                var metadata = form["include_all_metadata"] == "true";
                var all = standIn.Posted.Where(p => (string?)p["channel"] == user)
                    .Where(p => double.Parse((string)p["ts"]!, System.Globalization.CultureInfo.InvariantCulture) >= oldest).Reverse().ToList();
                var page = new JsonArray([.. all.Skip(from).Take(limit).Select(p => new JsonObject
                {
                    ["type"] = "message", ["ts"] = (string?)p["ts"], ["text"] = (string?)p["text"], ["metadata"] = metadata ? p["metadata"]?.DeepClone() : null,
                })]);
                var more = from + limit < all.Count;
                return Results.Json(new JsonObject
                {
                    ["ok"] = true, ["messages"] = page, ["has_more"] = more,
                    ["response_metadata"] = new JsonObject { ["next_cursor"] = more ? (from + limit).ToString(System.Globalization.CultureInfo.InvariantCulture) : "" },
                });
            });
            api.MapPost("/chat.update", async (HttpRequest request) =>
            {
                var body = (await JsonNode.ParseAsync(request.Body))!.AsObject();
                standIn!.Updated.Enqueue(body);
                return Results.Json(new { ok = true, channel = (string?)body["channel"], ts = (string?)body["ts"] });
            });
            app.MapPost("/responses/{id}", async (string id, HttpRequest request) =>
            {
                if (id.StartsWith("slow-", StringComparison.Ordinal))
                {
                    await Task.Delay(TimeSpan.FromSeconds(5));
                }

                standIn!.Responses.Enqueue((id, (await JsonNode.ParseAsync(request.Body))!.AsObject()));
                return Results.Text("ok");
            });
        });
        standIn = new SlackStandIn(server);
        return standIn;
    }

    public Task<JsonObject> WaitForPostAsync(Func<JsonObject, bool> match, TimeSpan? timeout = null) =>
        Poll.UntilAsync(() => Posted.FirstOrDefault(match), timeout,
            () => $"No matching chat.postMessage; received: {string.Join(" | ", Posted.Select(p => p.ToJsonString()))}");

    public Task<JsonObject> WaitForUpdateAsync(Func<JsonObject, bool> match, TimeSpan? timeout = null) =>
        Poll.UntilAsync(() => Updated.FirstOrDefault(match), timeout,
            () => $"No matching chat.update; received: {string.Join(" | ", Updated.Select(p => p.ToJsonString()))}");

    public Task<JsonObject> WaitForResponseAsync(string id, TimeSpan? timeout = null) =>
        Poll.UntilAsync(() => Responses.FirstOrDefault(r => r.Id == id).Body, timeout, () => $"Nothing was posted to response URL {id}.");

    /// <summary>A button press as Slack sends it: form-encoded <c>payload</c>, signed with v0 over <c>v0:{timestamp}:{body}</c>.</summary>
    public static HttpRequestMessage Interaction(JsonObject payload, DateTimeOffset? at = null, string secret = SigningSecret) =>
        Signed("payload=" + Uri.EscapeDataString(payload.ToJsonString()), at, secret);

    /// <summary>A request to the interactions endpoint with any form body, signed as Slack signs.</summary>
    public static HttpRequestMessage Signed(string body, DateTimeOffset? at = null, string secret = SigningSecret)
    {
        var timestamp = (at ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var request = new HttpRequestMessage(HttpMethod.Post, "/integrations/slack/interactions")
        {
            Content = new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/x-www-form-urlencoded")),
        };
        request.Headers.Add("X-Slack-Request-Timestamp", timestamp);
        request.Headers.Add("X-Slack-Signature", SlackSignature.Sign(secret, timestamp, Encoding.UTF8.GetBytes(body)));
        return request;
    }

    /// <summary>The payload of a press of <paramref name="actionId"/> on a message's button.</summary>
    public JsonObject Press(string slackUserId, string actionId, string resId, string responseId, string? messageTs = null) => new()
    {
        ["type"] = "block_actions",
        ["container"] = new JsonObject { ["type"] = "message", ["channel_id"] = slackUserId, ["message_ts"] = messageTs ?? "0.0" },
        ["user"] = new JsonObject { ["id"] = slackUserId, ["username"] = slackUserId },
        ["team"] = new JsonObject { ["id"] = "T0001" },
        ["response_url"] = ResponseUrl(responseId),
        ["actions"] = new JsonArray { new JsonObject { ["action_id"] = actionId, ["block_id"] = "approval-studio", ["value"] = resId, ["type"] = "button" } },
    };

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
