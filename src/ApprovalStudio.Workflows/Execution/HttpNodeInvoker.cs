using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ApprovalStudio.Workflows.Execution;

public interface IHttpNodeInvoker
{
    Task<HttpNodeResult> SendAsync(HttpNodeRequest request, CancellationToken cancellationToken);
}

public sealed record HttpNodeRequest(string Method, Uri Url, IReadOnlyDictionary<string, string> Headers, JsonNode? Body);

public sealed record HttpNodeResult(int Status, string? Reason, JsonNode? Body)
{
    public bool IsSuccess => Status is >= 200 and < 300;
}

/// <summary>Sends an http node's request through the named client <see cref="ClientName"/>.</summary>
public sealed class HttpNodeInvoker(IHttpClientFactory clients) : IHttpNodeInvoker
{
    public const string ClientName = "workflow-http-node";

    /// <summary>
    /// The request option that asks the host's tracing to keep only scheme and host of the URL: a node's URL is made from
    /// a run's data (names, ids, tokens in paths).
    /// </summary>
    public const string RedactUrlOption = "ApprovalStudio.SecretPath";

    public async Task<HttpNodeResult> SendAsync(HttpNodeRequest request, CancellationToken cancellationToken)
    {
        using var message = new HttpRequestMessage(new HttpMethod(request.Method), request.Url);
        message.Options.Set(new HttpRequestOptionsKey<bool>(RedactUrlOption), true);
        if (request.Body is not null)
        {
            message.Content = new StringContent(request.Body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        foreach (var (name, value) in request.Headers)
        {
            if (!message.Headers.TryAddWithoutValidation(name, value))
            {
                message.Content ??= new ByteArrayContent([]);
                message.Content.Headers.Remove(name);
                message.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using var response = await clients.CreateClient(ClientName).SendAsync(message, cancellationToken);
        // JSON is UTF-8 (RFC 8259): read the bytes as such, whatever charset the response claims (an unknown one would throw).
        var text = Encoding.UTF8.GetString(await response.Content.ReadAsByteArrayAsync(cancellationToken));
        return new HttpNodeResult((int)response.StatusCode, response.ReasonPhrase, ParseBody(text));
    }

    private static JsonNode? ParseBody(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return JsonValue.Create(text);
        }
    }
}
