using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Idempotency;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.ResumeFrom;

/// <summary>The seed's response (resume-from-node): snake_case, with the new run's logs.</summary>
public sealed record ResumeFromResponse(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("new_run")] NewRun NewRun);

public sealed record NewRun(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("error_message")] string? ErrorMessage,
    [property: JsonPropertyName("started_at")] DateTime StartedAt,
    [property: JsonPropertyName("completed_at")] DateTime? CompletedAt,
    [property: JsonPropertyName("duration_in_seconds")] double? DurationInSeconds,
    [property: JsonPropertyName("logs")] IReadOnlyList<RunLog> Logs);

public sealed record RunLog(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("node_id")] string NodeId,
    [property: JsonPropertyName("component_id")] string ComponentId,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("output")] JsonNode? Output,
    [property: JsonPropertyName("created_at")] DateTime CreatedAt);

public static class ResumeFromFeature
{
    /// <summary>How long the route waits for the new run to finish or suspend before answering.</summary>
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    public static IEndpointRouteBuilder MapResumeFrom(this IEndpointRouteBuilder app)
    {
        app.MapPost("/workflows/runs/{runId}/resume-from/{nodeId}", ResumeFrom).WithTags("Resume from").RequireAuthorization(Policies.Member).RequireRateLimiting(RateLimits.Api)
            .WithIdempotencyKeys()
            .WithSummary("Start a new run from a completed node of a failed run; answers when it ends or waits, or after 10 s.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return app;
    }

    private static async Task<Results<Ok<ResumeFromResponse>, ProblemHttpResult>> ResumeFrom(
        string runId, string nodeId, Actor actor, ResumePipeline pipeline, AppDbContext db, ExecutionEvents events, TimeProvider clock,
        HttpContext http, CancellationToken cancellationToken)
    {
        var outcome = await pipeline.ResumeFromAsync(actor, runId, nodeId, cancellationToken,
            key: http.Features.Get<IdempotencyHold>());
        if (outcome is not ResumeOutcome.Accepted { ExecutionId: var id })
        {
            return (ProblemHttpResult)ResumeFeature.ToResult(outcome).Result;
        }

        var run = await RunWatch.UntilSettledAsync(db, events, clock, id, Wait, cancellationToken);

        var logs = await db.NodeRuns.AsNoTracking().Where(r => r.ExecutionId == id).OrderBy(r => r.Id).ToListAsync(cancellationToken);
        return TypedResults.Ok(new ResumeFromResponse(
            $"Workflow resumed successfully from node '{nodeId}'.",
            new NewRun(run.Id, run.Status.ToLowerInvariant(), run.Error, run.CreatedAt, run.CompletedAt,
                run.CompletedAt is { } done ? Math.Round((done - run.CreatedAt).TotalSeconds, 3) : null,
                [.. logs.Select(l => new RunLog(l.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), l.NodeId, l.NodeType, LogStatus(l.Status),
                    l.OutputJson is null ? null : JsonNode.Parse(l.OutputJson), l.StartedAt))])));
    }

    private static string LogStatus(string status) => status switch
    {
        "Completed" => "success",
        "Failed" => "failed",
        "Waiting" => "waiting",
        _ => "running",
    };
}
