using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.OpenApi;

namespace ApprovalStudio.Web.Infrastructure.Errors;

/// <summary>
/// The OpenAPI document (<c>/openapi/v1.json</c>) as the truth of what each operation answers: the bearer-token and
/// API-key schemes, and beside each endpoint's own statuses the ones every route of its kind can answer — 401/403 where
/// a caller must be signed in, 429 where a rate limit applies, 400 where a query or body can be refused, 413/415 where a
/// body is read, 500 everywhere. Any JSON value is <c>{}</c> (null included), not a one-of with null.
/// </summary>
public static class ApiDocument
{
    public const string BearerScheme = "Bearer";
    public const string ApiKeyScheme = "ApiKey";
    private const string ProblemSchema = "ProblemDetails";
    private const string NotValid = "A parameter or the body is not valid; `errors` names each field.";

    public static IServiceCollection AddApiDocument(this IServiceCollection services)
    {
        // Numbers are numbers: the web default also reads "42" for 42, which the schema then has to call "integer or string".
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.NumberHandling = JsonNumberHandling.Strict);
        services.AddOpenApi(o =>
        {
            o.CreateSchemaReferenceId = type => IsAnyJson(type.Type) ? null : OpenApiOptions.CreateDefaultSchemaReferenceId(type);
            o.AddDocumentTransformer((document, _, _) =>
            {
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    BearerFormat = "JWT",
                    Description = "A token of the local issuer (`issue-token`) or of Microsoft Entra ID when configured.",
                };
                document.Components.SecuritySchemes[ApiKeyScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.ApiKey,
                    In = ParameterLocation.Header,
                    Name = "Authorization",
                    Description = "An API key of the tenant (`ask_…`), as the header's value or after `Bearer `.",
                };
                foreach (var schema in document.Components.Schemas?.Values ?? [])
                {
                    Tidy(schema);
                }

                return Task.CompletedTask;
            });
            o.AddOperationTransformer(DescribeAnswersAsync);
        });
        return services;
    }

    private static bool IsAnyJson(Type type) =>
        type == typeof(JsonNode) || type == typeof(JsonValue) || type == typeof(JsonArray) || type == typeof(JsonElement);

    private static async Task DescribeAnswersAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        var signedIn = metadata.OfType<IAuthorizeData>().Any() && !metadata.OfType<IAllowAnonymous>().Any();
        var limited = metadata.OfType<EnableRateLimitingAttribute>().Any();
        var hasBody = operation.RequestBody is not null;
        var hasQuery = operation.Parameters?.Any(p => p.In == ParameterLocation.Query) == true;

        operation.Responses ??= new OpenApiResponses();
        if (signedIn)
        {
            operation.Security ??= new List<OpenApiSecurityRequirement>();
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [] });
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeyScheme, context.Document)] = [] });
            await AddProblemAsync(operation, context, StatusCodes.Status401Unauthorized, "No valid token or API key.", cancellationToken);
            await AddProblemAsync(operation, context, StatusCodes.Status403Forbidden, "Signed in, but not allowed (another tenant's data, or an admin-only route).", cancellationToken);
        }

        if (hasBody || hasQuery)
        {
            await AddProblemAsync(operation, context, StatusCodes.Status400BadRequest, NotValid, cancellationToken);
        }

        if (hasBody)
        {
            await AddProblemAsync(operation, context, StatusCodes.Status413PayloadTooLarge, "The body is larger than the server takes.", cancellationToken);
            await AddProblemAsync(operation, context, StatusCodes.Status415UnsupportedMediaType, "The body is not of the declared media type.", cancellationToken);
        }

        if (limited)
        {
            await AddProblemAsync(operation, context, StatusCodes.Status429TooManyRequests, "Over the caller's rate limit; `Retry-After` says when to try again.", cancellationToken);
            AddRetryAfter(operation, StatusCodes.Status429TooManyRequests, "Seconds until a call may succeed.");
        }

        if (metadata.OfType<Idempotency.IdempotencyKeyMetadata>().Any())
        {
            operation.Parameters ??= new List<IOpenApiParameter>();
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = Idempotency.IdempotencyKeys.Header,
                In = ParameterLocation.Header,
                Required = false,
                Description = "Makes a retry safe (IETF draft-ietf-httpapi-idempotency-key-header): the same key, route and body get the first answer " +
                    "again, with `Idempotent-Replayed: true`; keys are the caller's own, kept 24 hours.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = Idempotency.IdempotencyKeys.MaxLength },
            });
            await AddProblemAsync(operation, context, StatusCodes.Status400BadRequest, NotValid, cancellationToken);
            await AddProblemAsync(operation, context, StatusCodes.Status409Conflict, "The request with this `Idempotency-Key` is still being answered (`Retry-After`).", cancellationToken);
            await AddProblemAsync(operation, context, StatusCodes.Status422UnprocessableEntity, "This `Idempotency-Key` was used for another route or body.", cancellationToken);
        }

        await AddProblemAsync(operation, context, StatusCodes.Status500InternalServerError, "The server failed; the problem's `traceId` is in its log.", cancellationToken);
        await AddProblemAsync(operation, context, StatusCodes.Status503ServiceUnavailable,
            "The database is unavailable and the request was not completed. Try again after `Retry-After`.", cancellationToken);
        AddRetryAfter(operation, StatusCodes.Status503ServiceUnavailable, "Seconds until a retry may succeed.");
    }

    /// <summary>Declares the <c>Retry-After</c> header (seconds) on the operation's <paramref name="status"/> answer.</summary>
    private static void AddRetryAfter(OpenApiOperation operation, int status, string description)
    {
        if (operation.Responses?.TryGetValue(status.ToString(System.Globalization.CultureInfo.InvariantCulture), out var answer) == true
            && answer is OpenApiResponse response)
        {
            response.Headers ??= new Dictionary<string, IOpenApiHeader>();
            response.Headers["Retry-After"] = new OpenApiHeader { Description = description, Schema = new OpenApiSchema { Type = JsonSchemaType.Integer } };
        }
    }

    private static async Task AddProblemAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, int status, string description, CancellationToken cancellationToken)
    {
        var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (operation.Responses!.ContainsKey(key))
        {
            return;
        }

        if (context.Document?.Components?.Schemas?.ContainsKey(ProblemSchema) != true)
        {
            context.Document?.AddComponent(ProblemSchema, await context.GetOrCreateSchemaAsync(typeof(ProblemDetails), null, cancellationToken));
        }

        operation.Responses[key] = new OpenApiResponse
        {
            Description = description,
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference(ProblemSchema, context.Document) },
            },
        };
    }

    /// <summary>A nullable "any JSON" property is <c>{}</c> (any value, null included), not <c>oneOf [{type: null}, {}]</c>.</summary>
    private static void Tidy(IOpenApiSchema schema)
    {
        if (schema is not OpenApiSchema s)
        {
            return;
        }

        foreach (var (name, property) in s.Properties?.ToList() ?? [])
        {
            if (property is OpenApiSchema { OneOf: [OpenApiSchema { Type: JsonSchemaType.Null }, OpenApiSchema any] } && IsAny(any))
            {
                s.Properties![name] = new OpenApiSchema { Description = "Any JSON value." };
                continue;
            }

            Tidy(property);
        }

        if (s.Items is not null)
        {
            Tidy(s.Items);
        }
    }

    private static bool IsAny(OpenApiSchema schema) =>
        schema.Type is null && schema.Properties is not { Count: > 0 } && schema.OneOf is not { Count: > 0 } && schema.Items is null;
}
