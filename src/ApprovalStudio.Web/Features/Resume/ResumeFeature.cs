using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Errors;
using ApprovalStudio.Web.Infrastructure.Idempotency;
using ApprovalStudio.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ApprovalStudio.Web.Features.Resume;

public static class ResumeFeature
{
    public const string ApiChannel = "api";

    public static IHostApplicationBuilder AddResume(this IHostApplicationBuilder builder)
    {
        builder.Services.AddScoped<ResumePipeline>();
        builder.Services.AddSingleton<TaskReader>();
        builder.Services.AddSingleton(sp => new DeepLinkTokens(sp.GetRequiredService<LocalSigningKey>().Key, sp.GetRequiredService<TimeProvider>()));
        return builder;
    }

    public static IEndpointRouteBuilder MapResume(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/executions/{executionResId}/resume", Resume)
            .WithTags("Resume")
            .RequireAuthorization(Policies.Member)
            .RequireRateLimiting(RateLimits.Api)
            .WithIdempotencyKeys()
            .WithSummary("Answer a suspended task (CONTRACT §4.1); the run continues in the background.")
            .Accepts<System.Text.Json.Nodes.JsonObject>("application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status410Gone);
        return app;
    }

    private static async Task<Results<Accepted<ExecutionAccepted>, ProblemHttpResult>> Resume(
        string executionResId, HttpRequest request, Actor actor, ResumePipeline pipeline, CancellationToken cancellationToken)
    {
        var (body, problem) = await Problems.ReadJsonAsync(request, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var outcome = await pipeline.ResumeAsync(new ResumeCommand(executionResId, new AnswerGrant.Assignee(actor), ApiChannel, body), cancellationToken);
        return ToResult(outcome);
    }

    /// <summary>The HTTP face of a pipeline outcome, shared by every route that resumes through the pipeline.</summary>
    public static Results<Accepted<ExecutionAccepted>, ProblemHttpResult> ToResult(ResumeOutcome outcome) => outcome switch
    {
        ResumeOutcome.Accepted a => TypedResults.Accepted($"/api/executions/{a.ExecutionId}/status", new ExecutionAccepted(a.ExecutionId, ExecutionStatuses.Resuming)),
        ResumeOutcome.Invalid i => Problems.Validation(i.Errors),
        ResumeOutcome.NotFound n => Problems.NotFound(n.What),
        ResumeOutcome.Conflict c => Problems.Status(StatusCodes.Status409Conflict, c.Title, c.Reason,
            c.ExecutionId is null ? null : new Dictionary<string, object?> { ["executionId"] = c.ExecutionId }),
        ResumeOutcome.Forbidden f => Problems.Status(StatusCodes.Status403Forbidden, "You may not answer this task.", f.Reason),
        ResumeOutcome.AlreadyResolved r => Problems.Status(StatusCodes.Status409Conflict, "This task was already answered.",
            $"{TaskOutcomes.Verb(r.Decision)} by {r.ResolvedByName ?? r.ResolvedBy} at {r.ResolvedAt:O} via {r.Channel}"
                + (Votes.Describe(r.TallyJson) is { } tally ? $", settling the vote ({tally})." : "."),
            Resolved(r)),
        ResumeOutcome.Voted v => TypedResults.Accepted($"/api/executions/{v.ExecutionId}/status",
            new ExecutionAccepted(v.ExecutionId, Votes.Voting, Votes.TallyNode(v.Tally))),
        ResumeOutcome.AlreadyVoted a => Problems.Status(StatusCodes.Status409Conflict, "You already voted on this task.",
            $"You voted {a.Decision} at {a.At:O} via {a.Channel}; a vote counts once.",
            new Dictionary<string, object?> { ["executionId"] = a.ExecutionId, ["decision"] = a.Decision, ["votedAt"] = a.At, ["channel"] = a.Channel }),
        ResumeOutcome.Gone g => Problems.Status(StatusCodes.Status410Gone, "This task can no longer be answered.", g.Reason,
            new Dictionary<string, object?> { ["executionId"] = g.ExecutionId, ["expiredAt"] = g.ExpiredAt }),
        _ => throw new InvalidOperationException($"Unknown outcome {outcome.GetType().Name}."),
    };

    /// <summary>The 409's extensions for an answered task: who, when, through which channel, what; and the tally of a vote.</summary>
    private static Dictionary<string, object?> Resolved(ResumeOutcome.AlreadyResolved r)
    {
        var extensions = new Dictionary<string, object?>
        {
            ["executionId"] = r.ExecutionId, ["resolvedBy"] = r.ResolvedBy, ["resolvedByName"] = r.ResolvedByName,
            ["resolvedAt"] = r.ResolvedAt, ["channel"] = r.Channel, ["decision"] = r.Decision,
        };
        if (r.TallyJson is not null)
        {
            extensions["tally"] = System.Text.Json.Nodes.JsonNode.Parse(r.TallyJson);
        }

        return extensions;
    }
}
