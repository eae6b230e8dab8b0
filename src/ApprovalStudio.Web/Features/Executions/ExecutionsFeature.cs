using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using ApprovalStudio.Web.Features.Workflows;
using ApprovalStudio.Web.Infrastructure;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Errors;
using ApprovalStudio.Web.Infrastructure.Faults;
using ApprovalStudio.Web.Infrastructure.Idempotency;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Security;
using ApprovalStudio.Workflows.Execution;
using ApprovalStudio.Workflows.Expressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>The body of starting a run, optional: the run's input.</summary>
public sealed record StartRunRequest(JsonObject? Input = null);

/// <summary>A 202's body. <paramref name="Tally"/>: a vote that did not settle its approval (<c>status: Voting</c>) says where it stands.</summary>
public sealed record ExecutionAccepted(
    string ExecutionId, string Status,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonNode? Tally = null);

/// <param name="Tally">An approval with a quorum: where its vote stands (absent otherwise).</param>
public sealed record WaitingEntry(
    string ResId, string NodeId, string Kind, string Title, IReadOnlyList<StackFrame> Stack, DateTime? ExpiresAt, JsonNode? ToolCalls,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonNode? Tally = null);

public sealed record ExecutionStatusView(
    string ExecutionId, string WorkflowKey, int WorkflowVersion, string Status, DateTime CreatedAt, DateTime UpdatedAt, DateTime? CompletedAt,
    IReadOnlyList<WaitingEntry> Waiting, JsonNode? Output, string? Error, string? ErrorNodeId, long LastSequence);

public sealed record NodeRunView(
    long Id, string NodeId, string NodeType, IReadOnlyList<StackFrame> Stack, string Status, JsonNode? Output, string? Error, DateTime StartedAt, DateTime? CompletedAt);

public static class ExecutionsFeature
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    public static IHostApplicationBuilder AddExecutions(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<WorkerOptions>().BindConfiguration(WorkerOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<WorkerOptions>, WorkerOptionsValidator>();
        builder.Services.AddSingleton<QueueSignal>();
        builder.Services.AddSingleton<ExecutionNotifier>();
        builder.Services.AddScoped<ExecutionEventReader>();
        builder.Services.AddSingleton<ExecutionEvents>();
        var redis = builder.Configuration[AppOptions.RedisKey];
        if (string.IsNullOrWhiteSpace(redis))
        {
            builder.Services.AddSingleton<IExecutionObserver, LocalExecutionEventBus>();
        }
        else
        {
            builder.Services.AddSingleton<StackExchange.Redis.IConnectionMultiplexer>(_ => StackExchange.Redis.ConnectionMultiplexer.Connect(redis));
            builder.Services.AddSingleton<RedisExecutionEventBus>();
            builder.Services.AddSingleton<IExecutionObserver>(sp => sp.GetRequiredService<RedisExecutionEventBus>());
            builder.Services.AddHostedService(sp => sp.GetRequiredService<RedisExecutionEventBus>());
        }

        builder.Services.AddOptions<ExpressionOptions>().BindConfiguration(ExpressionOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ExpressionOptions>, ExpressionOptionsValidator>();
        builder.Services.AddSingleton(services => new ExpressionEvaluator(services.GetRequiredService<IOptions<ExpressionOptions>>().Value.ToLimits()));
        builder.Services.AddOptions<RunOptions>().BindConfiguration(RunOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<RunOptions>, RunOptionsValidator>();
        builder.Services.AddOptions<HttpNodeOptions>().BindConfiguration(HttpNodeOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<HttpNodeOptions>, HttpNodeOptionsValidator>();
        builder.Services.AddSingleton<OutboundGuard>();
        builder.Services.AddHttpClient(HttpNodeInvoker.ClientName, (services, client) =>
            {
                var options = services.GetRequiredService<IOptions<HttpNodeOptions>>().Value;
                client.Timeout = options.Timeout;
                client.MaxResponseContentBufferSize = options.MaxResponseBytes;
            })
            .ConfigurePrimaryHttpMessageHandler(services =>
            {
                var options = services.GetRequiredService<IOptions<HttpNodeOptions>>().Value;
                return new SocketsHttpHandler
                {
                    // Every connection, redirects included, goes through the guard; a proxy would hide the real target.
                    ConnectCallback = services.GetRequiredService<OutboundGuard>().ConnectAsync,
                    UseProxy = false,
                    UseCookies = false,
                    AllowAutoRedirect = options.MaxRedirects > 0,
                    MaxAutomaticRedirections = Math.Max(1, options.MaxRedirects),
                };
            });
        builder.Services.AddSingleton<IHttpNodeInvoker, HttpNodeInvoker>();
        builder.Services.AddSingleton(services =>
        {
            var runs = services.GetRequiredService<IOptions<RunOptions>>().Value;
            return new WorkflowEngine(
                services.GetRequiredService<ExpressionEvaluator>(), services.GetRequiredService<IHttpNodeInvoker>(), services.GetRequiredService<TimeProvider>())
            {
                MaxNodeOutputBytes = runs.MaxNodeOutputBytes,
                MaxStateBytes = runs.MaxStateBytes,
                MaxStepOutputBytes = runs.MaxStepOutputBytes,
            };
        });
        builder.Services.AddScoped<ExecutionProcessor>();
        builder.Services.AddScoped<DeadLetters>();
        builder.Services.AddSingleton<ExecutionStatusReader>();
        builder.Services.AddHostedService<ExecutionWorker>();
        return builder;
    }

    public static IEndpointRouteBuilder MapExecutions(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/workflows/{key}/executions", Start).WithTags("Executions").RequireAuthorization(Policies.Member).RequireRateLimiting(RateLimits.Api)
            .WithIdempotencyKeys()
            .WithSummary("Start a run of the workflow's latest version; it advances in the background.")
            .Accepts<StartRunRequest>(isOptional: true, "application/json")
            .ProducesProblem(StatusCodes.Status404NotFound);
        var group = app.MapGroup("/api/executions/{executionId}").WithTags("Executions").RequireAuthorization(Policies.Member)
            .RequireRateLimiting(RateLimits.Api);
        group.MapGet("/status", Status).WithSummary("A run's status, its open waits, output and error (CONTRACT §3).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/nodes", Nodes).WithSummary("The run's node log: every node run with status, times, output and error.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<Results<Accepted<ExecutionAccepted>, ProblemHttpResult>> Start(
        string key, HttpRequest request, Actor actor, GroupCommit commits, WorkflowCatalog catalog, QueueSignal signal, TimeProvider clock,
        FaultPoints faults, CancellationToken cancellationToken)
    {
        var held = request.HttpContext.Features.Get<IdempotencyHold>();
        if (held?.Started is { } earlier)
        {
            // A retry of a start whose instance died after committing the run: that run is this request's, as the first answer said.
            return TypedResults.Accepted($"/api/executions/{earlier}/status", new ExecutionAccepted(earlier, ExecutionStatuses.Running));
        }

        var (body, problem) = await Problems.ReadBodyAsync<StartRunRequest>(request, "{input?}", cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var input = body!.Input ?? [];

        var latest = await catalog.GetLatestAsync(actor.TenantId, key, cancellationToken);
        if (latest is null)
        {
            return Problems.NotFound($"Workflow '{key}'");
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var id = RunStarts.NewId();
        var started = await RunStarts.StartAsync(commits, new ExecutionRecord
        {
            Id = id, TenantId = actor.TenantId, WorkflowKey = key, WorkflowVersion = latest.Value.Version,
            Status = ExecutionStatuses.Running, InputJson = input.ToJsonString(), CreatedBy = actor.UserId, CreatedAt = now, UpdatedAt = now,
        }, QueueKinds.Start, cancellationToken, held);
        if (started is null)
        {
            return IdempotencyHold.Lost();
        }

        signal.Notify();
        faults.Hit(FaultPoints.StartAfterCommit);
        return TypedResults.Accepted($"/api/executions/{id}/status", new ExecutionAccepted(id, ExecutionStatuses.Running));
    }

    private static async Task<Results<Ok<ExecutionStatusView>, ProblemHttpResult>> Status(
        string executionId, Actor actor, ExecutionStatusReader reader, CancellationToken cancellationToken) =>
        await reader.ReadAsync(executionId, actor.TenantId, cancellationToken) is { } status
            ? TypedResults.Ok(status)
            : Problems.NotFound($"Execution '{executionId}'");

    private static async Task<Results<Ok<NodeRunView[]>, ProblemHttpResult>> Nodes(
        string executionId, Actor actor, AppDbContext db, CancellationToken cancellationToken)
    {
        if (!await db.Executions.AnyAsync(e => e.Id == executionId && e.TenantId == actor.TenantId, cancellationToken))
        {
            return Problems.NotFound($"Execution '{executionId}'");
        }

        var runs = await db.NodeRuns.AsNoTracking().Where(r => r.ExecutionId == executionId).OrderBy(r => r.Id).ToListAsync(cancellationToken);
        return TypedResults.Ok(runs.Select(r => new NodeRunView(
            r.Id, r.NodeId, r.NodeType, Stack(r.StackJson), r.Status, r.OutputJson is null ? null : JsonNode.Parse(r.OutputJson), r.Error, r.StartedAt, r.CompletedAt)).ToArray());
    }

    internal static StackFrame[] Stack(string json) => JsonSerializer.Deserialize<StackFrame[]>(json, JsonOptions) ?? [];
}
