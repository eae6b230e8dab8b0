using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace ApprovalStudio.Web.Features.Slack;

/// <summary>
/// Slack's request signing (v0): <c>X-Slack-Signature = "v0=" + hex(HMAC-SHA256(signingSecret, "v0:{timestamp}:{body}"))</c>,
/// with <c>X-Slack-Request-Timestamp</c> within a window of now. Compared in constant time.
/// </summary>
public static class SlackSignature
{
    public static string Sign(string signingSecret, string timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes($"v0:{timestamp}:");
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        return "v0=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(signingSecret), message));
    }

    /// <returns>Null when the request is Slack's, else why it is refused.</returns>
    public static string? Verify(string signingSecret, string? timestamp, string? signature, ReadOnlySpan<byte> body, DateTimeOffset now, TimeSpan window)
    {
        if (string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(signature))
        {
            return "X-Slack-Request-Timestamp and X-Slack-Signature are required.";
        }

        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            || Math.Abs(now.ToUnixTimeSeconds() - seconds) > window.TotalSeconds)
        {
            return "X-Slack-Request-Timestamp is not within the allowed window of the server's time.";
        }

        var expected = Encoding.ASCII.GetBytes(Sign(signingSecret, timestamp, body));
        var given = Encoding.ASCII.GetBytes(signature);
        return CryptographicOperations.FixedTimeEquals(expected, given) ? null : "X-Slack-Signature does not match the request.";
    }
}
