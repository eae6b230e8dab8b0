using System.Text.Json.Nodes;
using System.Text.Unicode;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>What came back for one request of a property test, and the promises every answer keeps.</summary>
public sealed record Answer(string Request, int Status, string? MediaType, string Text)
{
    public JsonNode? Json => MediaType is "application/json" or "application/problem+json" && Text.Length > 0 ? JsonNode.Parse(Text) : null;

    /// <summary>
    /// Sends a request and checks nothing, so that a property first sees what the request did (and puts a new task in the
    /// place of one it consumed) and only then asserts: the cases CsCheck goes on to try, looking for a smaller failing one,
    /// then test themselves and not the state a failed case left.
    /// </summary>
    public static async Task<Answer> SendAsync(HttpClient client, HttpMethod method, string url, Body? body, Action<HttpRequestMessage>? headers = null)
    {
        using var request = new HttpRequestMessage(method, url) { Content = body?.Content() };
        headers?.Invoke(request);
        using var response = await client.SendAsync(request);
        return new Answer($"{method} {(url.Length > 200 ? url[..200] + "…" : url)}", (int)response.StatusCode, response.Content.Headers.ContentType?.MediaType,
            await response.Content.ReadAsStringAsync());
    }

    /// <summary>What every answer promises: no 5xx; a 4xx is problem+json with its status, and a 400 names the field.</summary>
    public void AssertWellFormed(object sent, bool page = false)
    {
        Assert.True(Status < 500, $"{Request} answered {Status}: {Text}\nfor {sent}");
        if (Status >= 400 && !page)
        {
            Assert.True(MediaType == "application/problem+json", $"{Request} answered {Status} as {MediaType}: {Text}\nfor {sent}");
            Assert.Equal(Status, (int?)Json!["status"]);
            Assert.True(Status != 400 || Json["errors"] is JsonObject { Count: > 0 }, $"A 400 names the field: {Text}\nfor {sent}");
        }
    }

    /// <summary>On a route that reads its body first: bytes that are not UTF-8 are a 400 naming the body (415 when the content type is not JSON).</summary>
    public void AssertNotUtf8IsRefused(Body body)
    {
        if (!Utf8.IsValid(body.Bytes) && Status != 415)
        {
            Assert.True(Status == 400 && Json!["errors"]?["$"] is not null, $"Not UTF-8, answered {Status} {Text}\nfor {body}");
        }
    }
}
