using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalStudio.Workflows.Definitions;
using ApprovalStudio.Workflows.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace ApprovalStudio.Web.Infrastructure.Errors;

/// <summary>problem+json answers shared by every feature (RFC 9457).</summary>
public static class Problems
{
    public static ProblemHttpResult Validation(IReadOnlyDictionary<string, string[]> errors, string? detail = null) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors.ToDictionary(p => p.Key, p => p.Value))
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "The request is invalid.",
            Detail = detail ?? string.Join(" ", errors.SelectMany(p => p.Value).Take(5)),
        });

    public static ProblemHttpResult Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message] });

    public static ProblemHttpResult Status(int status, string title, string? detail = null, IDictionary<string, object?>? extensions = null)
    {
        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail };
        foreach (var (key, value) in extensions ?? new Dictionary<string, object?>())
        {
            problem.Extensions[key] = value;
        }

        return TypedResults.Problem(problem);
    }

    public static ProblemHttpResult NotFound(string what) => Status(StatusCodes.Status404NotFound, $"{what} was not found.");

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Reads a request body as JSON; bytes that are not UTF-8 and malformed JSON become a 400 that names the body, and JSON
    /// that parses but cannot be read (a property given twice, a lone surrogate: <see cref="UnreadableJson"/>) a 400 that
    /// names where it is — for every route, once.
    /// </summary>
    public static async Task<(JsonNode? Body, ProblemHttpResult? Problem)> ReadJsonAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength == 0)
        {
            return (null, null);
        }

        if (request.HasJsonContentType() is false && !string.IsNullOrEmpty(request.ContentType))
        {
            return (null, Status(StatusCodes.Status415UnsupportedMediaType, "The body must be application/json."));
        }

        string text;
        try
        {
            using var reader = new StreamReader(request.Body, StrictUtf8);
            text = await reader.ReadToEndAsync(cancellationToken);
        }
        catch (DecoderFallbackException)
        {
            // JSON is UTF-8 (RFC 8259); read leniently, the bad bytes would become U+FFFD in what is stored.
            return (null, Validation("$", "The body is not valid UTF-8."));
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            return (null, null);
        }

        JsonNode? body;
        try
        {
            body = JsonNode.Parse(text);
        }
        catch (JsonException ex)
        {
            return (null, Validation("$", $"Malformed JSON: {ex.Message}"));
        }
        catch (InvalidOperationException)
        {
            // A property name that is not valid text (a lone surrogate) is refused by the parser itself.
            return (null, Validation("$", UnreadableJson.LoneSurrogate));
        }

        return UnreadableJson.Find(body) is { } unreadable ? (null, Validation(unreadable.Path, unreadable.Problem)) : (body, null);
    }
}

/// <summary>The one place domain exceptions become problem+json.</summary>
public sealed class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> log) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ProblemDetails problem = exception switch
        {
            InvalidDefinitionException invalid => new HttpValidationProblemDetails(
                invalid.Problems.GroupBy(p => p.Path).ToDictionary(g => g.Key, g => g.Select(p => p.Message).ToArray()))
            {
                Status = StatusCodes.Status400BadRequest,
                Title = "The workflow definition is invalid.",
                Detail = $"{invalid.Problems.Count} problem(s); see errors.",
            },
            BadHttpRequestException bad => new ProblemDetails { Status = bad.StatusCode, Title = "The request is invalid.", Detail = bad.Message },
            OperationCanceledException when httpContext.RequestAborted.IsCancellationRequested =>
                new ProblemDetails { Status = 499, Title = "The client closed the request." },
            _ => new ProblemDetails { Status = StatusCodes.Status500InternalServerError, Title = "An unexpected error occurred." },
        };

        if (problem.Status == StatusCodes.Status500InternalServerError)
        {
            // The route pattern, not the path: paths carry deep-link tokens and resIds. The exception handler has cleared
            // the request's endpoint by now; its feature keeps the one that failed. The trace id is the one the problem
            // body carries, so a person's report finds the log line.
            var endpoint = httpContext.Features.Get<IExceptionHandlerFeature>()?.Endpoint ?? httpContext.GetEndpoint();
            var route = (endpoint as RouteEndpoint)?.RoutePattern.RawText ?? endpoint?.DisplayName ?? "(no endpoint)";
            ErrorLog.Unhandled(log, httpContext.Request.Method, route, Activity.Current?.Id ?? httpContext.TraceIdentifier, exception);
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }
}

internal static partial class ErrorLog
{
    // Never the path or query: they may carry secrets (deep-link tokens, ?secret=, ?access_token=).
    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error on {Method} {Route} (trace {TraceId})")]
    public static partial void Unhandled(ILogger logger, string method, string route, string traceId, Exception exception);
}
