using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;

namespace ApprovalStudio.Testing;

/// <summary>
/// Every (operation, status) a test host answers, checked against the host's own <c>/openapi/v1.json</c> when it stops:
/// while the suites run, any status the document does not declare for its operation — or an API route the document
/// does not list — fails the test that made the host answer it.
/// </summary>
public sealed class ApiAnswers
{
    private static readonly string[] ApiPrefixes = ["/api/", "/v1/", "/workflows/"];
    private static readonly SemaphoreSlim DocumentGate = new(1, 1);
    private static OpenApiDocument? _document;

    private readonly ConcurrentDictionary<(string Method, string Path, int Status), byte> _seen = new();

    /// <summary>Each (method, document path, status) answered so far.</summary>
    public IReadOnlyCollection<(string Method, string Path, int Status)> Answered => _seen.Keys.ToList();

    public void Install(IServiceCollection services) => services.AddSingleton<IStartupFilter>(new Recorder(this));

    /// <summary>Marks an answer as seen (the recorder's own way in; tests of the check use it too).</summary>
    public void Seen(string method, string path, int status) => _seen.TryAdd((method.ToUpperInvariant(), path, status), 0);

    /// <summary>What was answered but is not in the document, one line each; empty when the document tells the truth.</summary>
    public async Task<IReadOnlyList<string>> UndocumentedAsync(HttpClient client)
    {
        if (_seen.IsEmpty)
        {
            return [];
        }

        var document = await DocumentAsync(client);
        var missing = new List<string>();
        foreach (var (method, path, status) in _seen.Keys.OrderBy(k => k.Path, StringComparer.Ordinal).ThenBy(k => k.Method).ThenBy(k => k.Status))
        {
            var operation = document.Paths.TryGetValue(path, out var item)
                && item.Operations?.TryGetValue(HttpMethod.Parse(method), out var found) == true ? found : null;
            if (operation is null)
            {
                if (ApiPrefixes.Any(p => path.StartsWith(p, StringComparison.Ordinal)))
                {
                    missing.Add($"{method} {path} is not in /openapi/v1.json at all (answered {status})");
                }

                continue;
            }

            if (operation.Responses?.ContainsKey(status.ToString(CultureInfo.InvariantCulture)) != true && operation.Responses?.ContainsKey("default") != true)
            {
                missing.Add($"{method} {path} answered {status}, which /openapi/v1.json does not declare (it has {string.Join(", ", operation.Responses?.Keys.AsEnumerable() ?? [])})");
            }
        }

        return missing;
    }

    /// <summary>The served document, read and validated once per test process (every host serves the same one).</summary>
    public static async Task<OpenApiDocument> DocumentAsync(HttpClient client)
    {
        await DocumentGate.WaitAsync();
        try
        {
            if (_document is null)
            {
                var text = await client.GetStringAsync("/openapi/v1.json");
                var result = OpenApiDocument.Parse(text, OpenApiConstants.Json, new OpenApiReaderSettings());
                var errors = result.Diagnostic?.Errors.Select(e => $"{e.Pointer}: {e.Message}").ToList() ?? [];
                if (result.Document is null || errors.Count > 0)
                {
                    throw new InvalidOperationException($"/openapi/v1.json does not read as OpenAPI: {string.Join("; ", errors)}");
                }

                _document = result.Document;
            }

            return _document;
        }
        finally
        {
            DocumentGate.Release();
        }
    }

    /// <summary>The path as the document writes it: <c>/api/workflows/{key}/versions/{version}</c> for <c>{version:int}</c>.</summary>
    public static string DocumentPath(RoutePattern pattern) =>
        "/" + string.Join("/", pattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
        {
            RoutePatternLiteralPart literal => literal.Content,
            RoutePatternParameterPart parameter => "{" + parameter.Name + "}",
            RoutePatternSeparatorPart separator => separator.Content,
            _ => string.Empty,
        }))));

    private sealed class Recorder(ApiAnswers answers) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, proceed) =>
            {
                try
                {
                    await proceed(context);
                }
                finally
                {
                    // A handled exception clears the endpoint; the handler's feature keeps it.
                    var endpoint = context.GetEndpoint() ?? context.Features.Get<IExceptionHandlerFeature>()?.Endpoint;
                    if (endpoint is RouteEndpoint route && route.Metadata.GetMetadata<IHttpMethodMetadata>() is not null)
                    {
                        answers.Seen(context.Request.Method, DocumentPath(route.RoutePattern), context.Response.StatusCode);
                    }
                }
            });
            next(app);
        };
    }
}
