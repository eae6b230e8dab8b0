using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Errors;
using ApprovalStudio.Web.Infrastructure.Idempotency;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Security;
using ApprovalStudio.Workflows.Definitions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.Dispatch;

/// <summary>The body of <c>POST /v1/dispatch/resume</c>: the run, its tool calls' outputs, messages for its transcript, and JSON or SSE.</summary>
public sealed record DispatchResumeRequest(
    [property: Required(ErrorMessage = "executionId is required.")] string? ExecutionId,
    JsonObject? ToolOutputs = null,
    JsonArray? Messages = null,
    bool? StreamResponse = null)
{
    public const string Shape = "{executionId, toolOutputs?, messages?, streamResponse?}";
}

/// <summary>
/// <c>POST /v1/dispatch/resume</c> (CONTRACT §4.4, seed dispatch-resume): an agent runtime hands back the
/// outputs of the tool calls a run paused for, with optional messages for its transcript, through the one
/// resume pipeline; the answer is the run's state as JSON, or its events as server-sent events.
/// </summary>
public static class DispatchFeature
{
    public const string Channel = "dispatch";

    /// <summary>How long a JSON answer waits for the run to wait again or end; a stream's longest life.</summary>
    public static readonly TimeSpan JsonWait = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan StreamLimit = TimeSpan.FromMinutes(5);

    public static IEndpointRouteBuilder MapDispatch(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/dispatch/resume", Resume).WithTags("Dispatch").RequireAuthorization(Policies.Member).RequireRateLimiting(RateLimits.Api)
            .WithIdempotencyKeys()
            .WithSummary("Resume a run paused for tool calls with their outputs (by toolCallId, or by tool name when unambiguous); JSON or SSE.")
            .Accepts<DispatchResumeRequest>("application/json")
            .Produces<JsonObject>(StatusCodes.Status200OK, "application/json", "text/event-stream")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status410Gone);
        return app;
    }

    private static async Task<Results<Ok<JsonObject>, ServerSentEventsResult<string>, ProblemHttpResult>> Resume(
        Actor actor, HttpRequest request, AppDbContext db, ResumePipeline pipeline, ExecutionEvents events, TimeProvider clock,
        CancellationToken cancellationToken)
    {
        var (body, problem) = await Problems.ReadBodyAsync<DispatchResumeRequest>(request, DispatchResumeRequest.Shape, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var result = await AcceptAsync(body!, actor, pipeline, cancellationToken);
        if (result.Problem is not null)
        {
            return result.Problem;
        }

        if (result.Stream)
        {
            // Watch before the first read, so no event between the resume and the stream's start is missed.
            return TypedResults.ServerSentEvents(StreamAsync(db, events, clock, result.ExecutionId!, result.AfterSequence, cancellationToken));
        }

        var run = await RunWatch.UntilSettledAsync(db, events, clock, result.ExecutionId!, JsonWait, cancellationToken);
        var waiting = await db.Tasks.AsNoTracking().Where(t => t.ExecutionId == run.Id && t.Status == TaskStatuses.Pending).ToListAsync(cancellationToken);
        return TypedResults.Ok(new JsonObject
        {
            ["executionId"] = run.Id,
            ["status"] = run.Status,
            ["waiting"] = new JsonArray([.. waiting.Select(t => (JsonNode)new JsonObject
            {
                ["resId"] = t.ResId, ["nodeId"] = t.NodeId, ["kind"] = t.Kind, ["title"] = t.Title,
                ["toolCalls"] = t.ToolCallsJson is null ? null : JsonNode.Parse(t.ToolCallsJson),
            })]),
            ["output"] = run.OutputJson is null ? null : JsonNode.Parse(run.OutputJson),
            ["error"] = run.Error,
        });
    }

    private sealed record Accepted(string? ExecutionId, long AfterSequence, bool Stream, ProblemHttpResult? Problem);

    private static async Task<Accepted> AcceptAsync(DispatchResumeRequest body, Actor actor, ResumePipeline pipeline, CancellationToken cancellationToken)
    {
        // The pipeline finds the run's pending tool calls and checks the outputs against them (as for every channel).
        var answer = new JsonObject { ["toolOutputs"] = body.ToolOutputs ?? [], ["messages"] = body.Messages };
        var outcome = await pipeline.ResumeToolCallsAsync(actor, body.ExecutionId!, answer, Channel, cancellationToken);
        return outcome is ResumeOutcome.Accepted accepted
            ? new Accepted(body.ExecutionId, accepted.AfterSequence, body.StreamResponse ?? false, null)
            : new Accepted(null, 0, false, (ProblemHttpResult)ResumeFeature.ToResult(outcome).Result);
    }

    /// <summary>
    /// The run's events after the resume as server-sent events, until it waits again (<c>flow_await</c> for
    /// tool calls, <c>suspended</c> for people), completes (<c>flow_complete</c>) or fails (<c>flow_error</c>).
    /// </summary>
    private static async IAsyncEnumerable<SseItem<string>> StreamAsync(
        AppDbContext db, ExecutionEvents events, TimeProvider clock, string executionId, long afterSequence,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var watch = RunWatch.Start(events, executionId);
        using var limit = new CancellationTokenSource(StreamLimit, clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        var last = afterSequence;
        while (!linked.IsCancellationRequested)
        {
            // The stored events are the truth (in order, none missed); a watch only says when to read them again.
            var stored = await db.ExecutionEvents.AsNoTracking()
                .Where(e => e.ExecutionId == executionId && e.Sequence > last).OrderBy(e => e.Sequence).ToListAsync(cancellationToken);
            foreach (var e in stored)
            {
                last = e.Sequence;
                var data = e.DataJson is null ? null : JsonNode.Parse(e.DataJson);
                var (name, payload, end) = e.Type switch
                {
                    ExecutionEventTypes.Suspended when (string?)data?["kind"] == nameof(WaitKind.ToolCall) =>
                        ("flow_await", new JsonObject { ["executionId"] = executionId, ["toolCalls"] = await ToolCallsAsync(db, (string?)data?["resId"], cancellationToken) }, true),
                    ExecutionEventTypes.Suspended => ("suspended", Message(e, data), true),
                    ExecutionEventTypes.Completed => ("flow_complete", new JsonObject { ["executionId"] = executionId, ["output"] = data?["output"]?.DeepClone() }, true),
                    ExecutionEventTypes.Failed => ("flow_error", new JsonObject { ["executionId"] = executionId, ["error"] = data?["error"]?.DeepClone() }, true),
                    _ => (e.Type, Message(e, data), false),
                };
                yield return new SseItem<string>(payload.ToJsonString(), name) { EventId = e.Sequence.ToString(CultureInfo.InvariantCulture) };
                if (end)
                {
                    yield break;
                }
            }

            try
            {
                await watch.NextAsync(linked.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The stream's longest life passed.
            }
        }
    }

    private static JsonObject Message(ExecutionEventRecord e, JsonNode? data) => new()
    {
        ["executionId"] = e.ExecutionId, ["sequence"] = e.Sequence, ["type"] = e.Type, ["nodeId"] = e.NodeId, ["status"] = e.Status, ["at"] = e.At,
        ["data"] = data?.DeepClone(),
    };

    private static async Task<JsonNode?> ToolCallsAsync(AppDbContext db, string? resId, CancellationToken cancellationToken)
    {
        var json = resId is null ? null
            : await db.Tasks.AsNoTracking().Where(t => t.ResId == resId).Select(t => t.ToolCallsJson).SingleOrDefaultAsync(cancellationToken);
        return json is null ? new JsonArray() : JsonNode.Parse(json);
    }
}
