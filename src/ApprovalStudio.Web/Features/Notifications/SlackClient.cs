using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Telemetry;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.Notifications;

/// <summary>Slack refused or failed a call; <see cref="RetryAfter"/> when it asked us to slow down, <see cref="Error"/> its ok=false code.</summary>
public sealed class SlackException(string message, TimeSpan? retryAfter = null, string? error = null) : Exception(message)
{
    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>Slack's error code of an ok=false answer (as "missing_scope").</summary>
    public string? Error { get; } = error;
}

/// <summary>
/// The Slack calls the app makes: chat.postMessage and chat.update (bot token), finding a message it posted again
/// (conversations.open and .history), and a post to an interaction's response_url.
/// </summary>
public sealed class SlackClient(HttpClient http, IOptions<SlackOptions> options)
{
    public const string HttpClientName = "slack";

    /// <summary>The metadata event type that marks a message as one outbox row's (<see cref="FindPostedAsync"/>).</summary>
    public const string NotificationEvent = "approval_studio_notification";

    /// <param name="notificationId">The outbox row, carried in the message's metadata so the message can be found again.</param>
    /// <returns>Slack's <c>channel/ts</c> of the new message.</returns>
    public async Task<string> PostMessageAsync(string channel, SlackMessage message, CancellationToken cancellationToken, long? notificationId = null)
    {
        var post = new JsonObject { ["channel"] = channel, ["text"] = message.Text, ["blocks"] = message.Blocks.DeepClone(), ["unfurl_links"] = false };
        if (notificationId is { } id)
        {
            post["metadata"] = new JsonObject
            {
                ["event_type"] = NotificationEvent,
                ["event_payload"] = new JsonObject { ["notification"] = id.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            };
        }

        var body = await CallAsync("chat.postMessage", post, cancellationToken);
        if (body?["ok"]?.GetValue<bool>() != true)
        {
            throw new SlackException($"chat.postMessage answered ok=false: {(string?)body?["error"] ?? "no error given"}.");
        }

        return $"{(string?)body["channel"]}/{(string?)body["ts"]}";
    }

    /// <summary>
    /// The message the bot posted for outbox row <paramref name="notificationId"/> to <paramref name="to"/> (a user's DM or a
    /// channel) since <paramref name="since"/>, by its metadata: <c>channel/ts</c>, or null when there is none. Needs the
    /// bot scopes <c>im:write</c> (to open the DM) and <c>im:history</c> (<c>channels:history</c> for a channel).
    /// </summary>
    public async Task<string?> FindPostedAsync(string to, long notificationId, DateTime since, CancellationToken cancellationToken)
    {
        var channel = to;
        if (to.Length > 0 && to[0] is 'U' or 'W')
        {
            var opened = await CallFormAsync("conversations.open", [new("users", to), new("return_im", "false")], cancellationToken);
            channel = (string?)opened["channel"]?["id"] ?? throw new SlackException("conversations.open answered no channel.");
        }

        var oldest = (since.AddSeconds(-5) - DateTime.UnixEpoch).TotalSeconds.ToString("0.000000", System.Globalization.CultureInfo.InvariantCulture);
        var wanted = notificationId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string? cursor = null;
        for (var page = 0; page < MaxHistoryPages; page++)
        {
            List<KeyValuePair<string, string>> arguments = [new("channel", channel), new("oldest", oldest), new("limit", "100"), new("include_all_metadata", "true")];
            if (cursor is not null)
            {
                arguments.Add(new("cursor", cursor));
            }

            var history = await CallFormAsync("conversations.history", [.. arguments], cancellationToken);
            var found = history["messages"]?.AsArray().FirstOrDefault(m =>
                (string?)m?["metadata"]?["event_type"] == NotificationEvent && (string?)m?["metadata"]?["event_payload"]?["notification"] == wanted);
            if (found is not null)
            {
                return $"{channel}/{(string?)found["ts"]}";
            }

            cursor = (string?)history["response_metadata"]?["next_cursor"];
            if (history["has_more"]?.GetValue<bool>() != true || string.IsNullOrEmpty(cursor))
            {
                return null;
            }
        }

        throw new SlackException($"The conversation has more than {MaxHistoryPages * 100} messages since the send began; not looked through.",
            error: TooMuchHistory);
    }

    /// <summary>The error of a lookup that gave up on a conversation too busy to look through.</summary>
    public const string TooMuchHistory = "too_much_history";

    /// <summary>How many pages of a conversation's history are read looking for one message.</summary>
    private const int MaxHistoryPages = 10;

    /// <summary>Replaces a message the bot posted (<paramref name="channelAndTs"/> as <see cref="PostMessageAsync"/> returned it).</summary>
    public async Task UpdateMessageAsync(string channelAndTs, JsonObject message, CancellationToken cancellationToken)
    {
        var (channel, ts) = channelAndTs.Split('/') is [var c, var t] ? (c, t) : throw new ArgumentException("Expected channel/ts.", nameof(channelAndTs));
        message["channel"] = channel;
        message["ts"] = ts;
        var body = await CallAsync("chat.update", message, cancellationToken);
        if (body?["ok"]?.GetValue<bool>() != true)
        {
            throw new SlackException($"chat.update answered ok=false: {(string?)body?["error"] ?? "no error given"}.");
        }
    }

    /// <summary>Posts to an interaction's response_url (valid 30 minutes, 5 times): replaces the message or adds an ephemeral note.</summary>
    public async Task RespondAsync(string responseUrl, JsonObject payload, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(responseUrl)) { Content = Json(payload) };
        request.Options.Set(TelemetryExtensions.SecretPath, true); // The URL is the credential: spans keep its host only.
        using var response = await http.SendAsync(request, cancellationToken);
        await ReadAsync(response, "response_url", cancellationToken);
    }

    /// <summary>A Web API method with the bot token.</summary>
    private async Task<JsonNode?> CallAsync(string method, JsonObject body, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(EnsureSlash(settings.ApiBaseUrl)), method)) { Content = Json(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", settings.BotToken);
        using var response = await http.SendAsync(request, cancellationToken);
        return await ReadAsync(response, method, cancellationToken);
    }

    /// <summary>A Web API read method with the bot token and form arguments (Slack takes JSON bodies only for its write methods).</summary>
    private async Task<JsonNode> CallFormAsync(string method, KeyValuePair<string, string>[] arguments, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(EnsureSlash(settings.ApiBaseUrl)), method))
        {
            Content = new FormUrlEncodedContent(arguments),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", settings.BotToken);
        using var response = await http.SendAsync(request, cancellationToken);
        var body = await ReadAsync(response, method, cancellationToken);
        return body?["ok"]?.GetValue<bool>() == true
            ? body
            : throw new SlackException($"{method} answered ok=false: {(string?)body?["error"] ?? "no error given"}.", error: (string?)body?["error"]);
    }

    private static async Task<JsonNode?> ReadAsync(HttpResponseMessage response, string call, CancellationToken cancellationToken)
    {
        if (response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            throw new SlackException($"{call}: Slack is rate limiting.", response.Headers.RetryAfter?.Delta);
        }

        if (!response.IsSuccessStatusCode)
        {
            throw new SlackException($"{call} answered {(int)response.StatusCode} {response.ReasonPhrase}.");
        }

        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        return response.Content.Headers.ContentType?.MediaType == "application/json" && text.Length > 0 ? JsonNode.Parse(text) : null;
    }

    private static StringContent Json(JsonObject body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    private static string EnsureSlash(string url) => url.EndsWith('/') ? url : url + "/";
}
