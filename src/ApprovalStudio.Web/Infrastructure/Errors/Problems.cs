using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using ApprovalStudio.Workflows.Definitions;
using ApprovalStudio.Workflows.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using HttpJsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

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

    /// <summary>
    /// Reads a body of a fixed shape into <typeparamref name="T"/>: read as by <see cref="ReadJsonAsync"/> (no body reads as
    /// <c>{}</c>, so optional bodies work and required fields fail below), then deserialized with the app's JSON options
    /// (numbers are numbers, unknown fields are ignored), then checked by its data annotations. Each refusal is a 400 naming
    /// the JSON field: a body that is not an object names <c>$</c> and gives <paramref name="shape"/>; a field given twice in
    /// different case is refused as ambiguous; a field of the wrong type says what it must be; an annotation's message is
    /// keyed by its field's JSON name.
    /// </summary>
    public static async Task<(T? Body, ProblemHttpResult? Problem)> ReadBodyAsync<T>(HttpRequest request, string shape, CancellationToken cancellationToken)
        where T : class
    {
        var (node, problem) = await ReadJsonAsync(request, cancellationToken);
        if (problem is not null)
        {
            return (null, problem);
        }

        var notAnObject = Validation("$", $"The body is a JSON object {shape}.");
        if ((node ?? new JsonObject()) is not JsonObject body)
        {
            return (null, notAnObject);
        }

        var options = request.HttpContext.RequestServices.GetRequiredService<IOptions<HttpJsonOptions>>().Value.SerializerOptions;
        var info = options.GetTypeInfo(typeof(T));

        // Names match in any case (web defaults), so "name" and "Name" in one body would be the same field given twice.
        if (info.Properties.FirstOrDefault(p => body.Count(f => string.Equals(f.Key, p.Name, StringComparison.OrdinalIgnoreCase)) > 1) is { } twice)
        {
            return (null, Validation(twice.Name, $"{twice.Name} is given twice (in different case); a field appears once."));
        }

        T? read;
        try
        {
            read = body.Deserialize<T>(options);
        }
        catch (JsonException ex)
        {
            return (null, WrongType(info, ex.Path) ?? notAnObject);
        }

        if (read is null)
        {
            return (null, notAnObject);
        }

        var results = new List<ValidationResult>();
        if (Validator.TryValidateObject(read, new ValidationContext(read), results, validateAllProperties: true))
        {
            return (read, null);
        }

        var errors = results
            .SelectMany(r => (r.MemberNames.Any() ? r.MemberNames : ["$"]).Select(member => (Field: JsonName(info, member), Message: r.ErrorMessage ?? $"{JsonName(info, member)} is invalid.")))
            .GroupBy(e => e.Field, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(e => e.Message).Distinct(StringComparer.Ordinal).ToArray(), StringComparer.Ordinal);
        return (null, Validation(errors));
    }

    private static string JsonName(JsonTypeInfo info, string member) =>
        info.Properties.FirstOrDefault(p => (p.AttributeProvider as MemberInfo)?.Name == member)?.Name ?? member;

    /// <summary>A field of the wrong type: named by its path (<c>$.streamResponse</c> → <c>streamResponse</c>), with what it must be.</summary>
    private static ProblemHttpResult? WrongType(JsonTypeInfo info, string? path)
    {
        var field = path is { Length: > 2 } && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : null;
        var top = field?.Split('.', '[')[0];
        var property = top is null ? null : info.Properties.FirstOrDefault(p => string.Equals(p.Name, top, StringComparison.OrdinalIgnoreCase));
        return property is null ? null : Validation(field!, $"{property.Name} is {Expected(property.PropertyType)}.");
    }

    private static string Expected(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return Type.GetTypeCode(type) switch
        {
            TypeCode.Boolean => "true or false",
            TypeCode.String or TypeCode.Char => "a string",
            TypeCode.Byte or TypeCode.SByte or TypeCode.Int16 or TypeCode.UInt16 or TypeCode.Int32 or TypeCode.UInt32 or TypeCode.Int64 or TypeCode.UInt64 => "an integer",
            TypeCode.Single or TypeCode.Double or TypeCode.Decimal => "a number",
            TypeCode.DateTime => "a date and time (ISO 8601)",
            _ when type == typeof(JsonArray) => "an array",
            _ when type == typeof(JsonObject) || typeof(IDictionary).IsAssignableFrom(type) || type.GetInterfaces().Any(i => i.IsGenericType
                && i.GetGenericTypeDefinition() is var d && (d == typeof(IDictionary<,>) || d == typeof(IReadOnlyDictionary<,>))) => "an object",
            _ when type.IsAssignableTo(typeof(IEnumerable<string>)) => "an array of strings",
            _ when type.IsAssignableTo(typeof(IEnumerable)) => "an array",
            _ => "an object",
        };
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
            _ when DatabaseUnavailable.Is(exception) => new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "The database is unavailable.",
                Detail = "The request was not completed. Try again after Retry-After; with the same Idempotency-Key, a retry is answered once.",
            },
            _ => new ProblemDetails { Status = StatusCodes.Status500InternalServerError, Title = "An unexpected error occurred." },
        };

        if (problem.Status == StatusCodes.Status500InternalServerError)
        {
            // The route pattern, not the path: paths carry deep-link tokens and resIds. The exception handler has cleared
            // the request's endpoint by now; its feature keeps the one that failed. The trace id is the one the problem
            // body carries, so a person's report finds the log line.
            ErrorLog.Unhandled(log, httpContext.Request.Method, Route(httpContext), Activity.Current?.Id ?? httpContext.TraceIdentifier, exception);
        }

        if (problem.Status == StatusCodes.Status503ServiceUnavailable)
        {
            ErrorLog.DatabaseUnavailable(log, httpContext.Request.Method, Route(httpContext), exception.GetType().Name, exception.GetBaseException().Message);
            httpContext.Response.Headers.RetryAfter = ((int)DatabaseUnavailable.RetryAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

    private static string Route(HttpContext httpContext)
    {
        var endpoint = httpContext.Features.Get<IExceptionHandlerFeature>()?.Endpoint ?? httpContext.GetEndpoint();
        return (endpoint as RouteEndpoint)?.RoutePattern.RawText ?? endpoint?.DisplayName ?? "(no endpoint)";
    }
}

internal static partial class ErrorLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "The database is unavailable for {Method} {Route}: {ErrorType}: {Error}; answered 503")]
    public static partial void DatabaseUnavailable(ILogger logger, string method, string route, string errorType, string error);

    // Never the path or query: they may carry secrets (deep-link tokens, ?secret=, ?access_token=).
    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error on {Method} {Route} (trace {TraceId})")]
    public static partial void Unhandled(ILogger logger, string method, string route, string traceId, Exception exception);
}
