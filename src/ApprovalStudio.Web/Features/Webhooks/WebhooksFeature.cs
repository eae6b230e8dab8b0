using System.Text.Json;
using System.Text.Json.Nodes;
using System.Xml;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Features.Workflows;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Errors;
using ApprovalStudio.Web.Infrastructure.Idempotency;
using ApprovalStudio.Web.Infrastructure.Security;
using ApprovalStudio.Workflows.Execution;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ApprovalStudio.Web.Features.Webhooks;

/// <summary>The answer of the webhook dialect (seed runs-nodes-resume): resumed, or skipped with why.</summary>
public sealed record WebhookResumeResult(string Action, string? Reason = null);

/// <summary>The body of a secret rotation, optional: how long the current secret stays valid (ISO 8601, default P1D).</summary>
public sealed record RotateSecretRequest(string? GracePeriod = null);

public sealed record RotatedSecret(string WebhookSecret, DateTime PreviousSecretValidUntil);

/// <summary>
/// <c>POST /v1/runs/{id}/nodes/{nodeId}/resume?secret=…</c> (CONTRACT §4.2): resume a waiting node by
/// run, node and forEach stack with the workflow's webhook secret, through the one resume pipeline.
/// </summary>
public static class WebhooksFeature
{
    public const string Channel = "webhook";

    public static IEndpointRouteBuilder MapWebhooks(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/runs/{id}/nodes/{nodeId}/resume", Resume).WithTags("Webhooks").AllowAnonymous().RequireRateLimiting(RateLimits.Webhooks)
            .WithIdempotencyKeys(context => $"run:{context.Request.RouteValues["id"]}") // anonymous: keys are per run
            .WithSummary("Resume a waiting node with the workflow's webhook secret; nodes inside forEach loops are addressed by stack.")
            .Accepts<JsonObject>("application/json")
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status404NotFound);
        app.MapPost("/api/workflows/{key}/webhook-secret/rotate", Rotate).WithTags("Workflows").RequireAuthorization(Policies.Admin).RequireRateLimiting(RateLimits.Api)
            .WithSummary("Issue a new webhook secret; the current one stays valid for gracePeriod (ISO 8601, default P1D).")
            .Accepts<RotateSecretRequest>(isOptional: true, "application/json")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<Results<Ok<WebhookResumeResult>, ProblemHttpResult>> Resume(
        string id, string nodeId, string? secret, HttpRequest request, ResumePipeline pipeline, CancellationToken cancellationToken)
    {
        var (body, problem) = await Problems.ReadJsonAsync(request, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var (stack, field, data, error) = ReadBody(body);
        if (error is not null)
        {
            return error;
        }

        var outcome = await pipeline.ResumeWaitAsync(new WaitResumeCommand(id, nodeId, stack, field, secret, data), Channel, cancellationToken);
        return ToResult(outcome, nodeId, StackFrame.Key(stack));
    }

    /// <summary>The webhook dialect's face of a pipeline outcome: a wait that is not there to answer is skipped, with why (seed runs-nodes-resume).</summary>
    public static Results<Ok<WebhookResumeResult>, ProblemHttpResult> ToResult(ResumeOutcome outcome, string nodeId, string stackKey) => outcome switch
    {
        ResumeOutcome.Accepted => TypedResults.Ok(new WebhookResumeResult("resumed")),
        ResumeOutcome.AlreadyResolved => TypedResults.Ok(new WebhookResumeResult("skipped",
            $"Node {WaitResumeCommand.Name(nodeId, stackKey)} was already resumed.")),
        ResumeOutcome.Gone g => TypedResults.Ok(new WebhookResumeResult("skipped", g.Reason)),
        ResumeOutcome.Conflict c => TypedResults.Ok(new WebhookResumeResult("skipped", c.Reason)),
        ResumeOutcome.Invalid i => Problems.Validation(i.Errors),
        ResumeOutcome.NotFound n => Problems.NotFound(n.What),
        ResumeOutcome.Forbidden => Problems.Status(StatusCodes.Status401Unauthorized, "A valid webhook secret is required.", "Pass the workflow's webhook secret as ?secret=."),
        _ => throw new InvalidOperationException($"Unknown outcome {outcome.GetType().Name}."),
    };

    /// <summary>
    /// <c>{"data", "stack": [{parentNodeId, index, total}]}</c>, or the legacy <c>{"forEachContext": {parentNodeId, index}}</c>
    /// as a one-level stack (the pipeline checks it names the node's enclosing loops, outermost first). Field: where the stack came from.
    /// </summary>
    private static (IReadOnlyList<StackFrame> Stack, string Field, JsonNode? Data, ProblemHttpResult? Error) ReadBody(JsonNode? body)
    {
        if (body is not null and not JsonObject)
        {
            return ([], "stack", null, Problems.Validation("$", "The body is a JSON object {\"data\", \"stack\"}."));
        }

        var obj = body as JsonObject ?? [];
        var frames = new List<StackFrame>();
        var source = obj["stack"] is not null ? "stack" : obj["forEachContext"] is not null ? "forEachContext" : null;
        var items = source switch
        {
            "stack" => obj["stack"] as JsonArray,
            "forEachContext" => obj["forEachContext"] is JsonObject legacy ? new JsonArray(legacy.DeepClone()) : null,
            _ => [],
        };
        if (items is null)
        {
            return ([], source!, null, Problems.Validation(source!, source == "stack" ? "stack is an array of {parentNodeId, index, total}." : "forEachContext is an object {parentNodeId, index}."));
        }

        for (var i = 0; i < items.Count; i++)
        {
            if (items[i] is not JsonObject frame || frame["parentNodeId"] is not JsonValue p || !p.TryGetValue<string>(out var parent)
                || frame["index"] is not JsonValue x || !x.TryGetValue<int>(out var index) || index < 0)
            {
                return ([], source!, null, Problems.Validation($"{source}[{i}]", "Each level is {\"parentNodeId\": string, \"index\": non-negative integer, \"total\"?}."));
            }

            var total = frame["total"] is JsonValue t && t.TryGetValue<int>(out var n) ? n : 0;
            frames.Add(new StackFrame(parent, index, total));
        }

        return (frames, source ?? "stack", obj["data"]?.DeepClone(), null);
    }

    private static async Task<Results<Ok<RotatedSecret>, ProblemHttpResult>> Rotate(
        string key, HttpRequest request, Actor actor, WorkflowCatalog catalog, CancellationToken cancellationToken)
    {
        var (body, problem) = await Problems.ReadBodyAsync<RotateSecretRequest>(request, "{gracePeriod?}, or nothing", cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var grace = TimeSpan.FromDays(1);
        if (body!.GracePeriod is { } text)
        {
            try
            {
                grace = XmlConvert.ToTimeSpan(text);
            }
            catch (Exception ex) when (ex is FormatException or OverflowException)
            {
                return Problems.Validation("gracePeriod", "gracePeriod is an ISO 8601 duration such as PT1H or P7D.");
            }

            if (grace < TimeSpan.Zero || grace > TimeSpan.FromDays(30))
            {
                return Problems.Validation("gracePeriod", "gracePeriod is between PT0S and P30D.");
            }
        }

        var rotated = await catalog.RotateSecretAsync(actor.TenantId, key, grace, cancellationToken);
        return rotated is { } r ? TypedResults.Ok(new RotatedSecret(r.Secret, r.PreviousValidUntil)) : Problems.NotFound($"Workflow '{key}'");
    }
}
