using System.ComponentModel;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Features.Workflows;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Errors;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Security;
using ApprovalStudio.Workflows.Definitions;
using ApprovalStudio.Workflows.Execution;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.Tasks;

public sealed record TaskSummary(
    string ResId, string ExecutionId, string WorkflowKey, string NodeId, string Kind, string Title, string Status,
    DateTime CreatedAt, DateTime? ExpiresAt, IReadOnlyList<StackFrame> Stack);

public sealed record TaskPage(IReadOnlyList<TaskSummary> Items, int Total, int Page, int PageSize);

public sealed record TaskAssignees(IReadOnlyList<string> Users, IReadOnlyList<string> Groups);

public sealed record TaskDetail(
    string ResId, string ExecutionId, string WorkflowKey, int WorkflowVersion, string NodeId, string Kind, string Title, string Status,
    DateTime CreatedAt, DateTime? ExpiresAt, IReadOnlyList<StackFrame> Stack, TaskAssignees Assignees,
    JsonNode? Schema, bool RequireCommentOnReject, JsonNode? ToolCalls,
    string? ResolvedBy, string? ResolvedByName, DateTime? ResolvedAt, string? Channel, JsonNode? Response)
{
    /// <summary>An approval with a quorum (issue 15): where its vote stands; absent for other tasks.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonNode? Tally { get; init; }

    /// <summary>An approval with a quorum: the votes cast so far, in order (<c>{userId, name, decision, comment, channel, at}</c>).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonArray? Votes { get; init; }
}

/// <summary>The tasks an actor may answer, and one task with what is needed to answer it (its form schema…).</summary>
public static class TasksFeature
{
    public static IEndpointRouteBuilder MapTasks(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/tasks").WithTags("Tasks").RequireAuthorization(Policies.Member).RequireRateLimiting(RateLimits.Api);
        group.MapGet("/", List).WithSummary("Pending tasks the caller may answer (by user or group; admins: all of the tenant), newest first.");
        group.MapGet("/{resId}", Get).WithSummary("One task: its kind, deadline, assignees, form schema, and who answered it.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    /// <summary>The tasks of <paramref name="actor"/>'s tenant that it may answer.</summary>
    private static async Task<Results<Ok<TaskPage>, ProblemHttpResult>> List(
        Actor actor, AppDbContext db, CancellationToken cancellationToken,
        [Description("1-based page")] int page = 1,
        [Description("1–200")] int pageSize = 50)
    {
        if (page < 1 || pageSize is < 1 or > 200)
        {
            return Problems.Validation(page < 1 ? "page" : "pageSize", page < 1 ? "page starts at 1." : "pageSize is between 1 and 200.");
        }

        // (page - 1) * pageSize in int arithmetic wrapped around to page 1 for a huge page.
        var skip = (long)(page - 1) * pageSize;
        if (skip > int.MaxValue)
        {
            return Problems.Validation("page", $"page is at most {(int.MaxValue / pageSize) + 1} with pageSize {pageSize}.");
        }

        var pending = db.Tasks.AsNoTracking().AnswerableBy(actor).Where(t => t.Status == TaskStatuses.Pending);
        var total = await pending.CountAsync(cancellationToken);
        var items = await pending.OrderByDescending(t => t.CreatedAt).ThenBy(t => t.ResId)
            .Skip((int)skip).Take(pageSize).ToListAsync(cancellationToken);
        return TypedResults.Ok(new TaskPage(
            [.. items.Select(t => new TaskSummary(t.ResId, t.ExecutionId, t.WorkflowKey, t.NodeId, t.Kind, t.Title, t.Status, t.CreatedAt, t.ExpiresAt,
                ExecutionsFeature.Stack(t.StackJson)))],
            total, page, pageSize));
    }

    private static async Task<Results<Ok<TaskDetail>, ProblemHttpResult>> Get(
        string resId, Actor actor, AppDbContext db, WorkflowCatalog catalog, CancellationToken cancellationToken)
    {
        var task = await db.Tasks.AsNoTracking().Include(t => t.Assignees).SingleOrDefaultAsync(t => t.ResId == resId, cancellationToken);
        if (task is null)
        {
            return Problems.NotFound("The task");
        }

        if (task.TenantId != actor.TenantId || !Answerers.May(actor, task))
        {
            return Problems.Status(StatusCodes.Status403Forbidden, "You may not see this task.",
                task.TenantId != actor.TenantId ? "This task belongs to another tenant." : "You are not an assignee of this task.");
        }

        var node = (await catalog.GetAsync(task.TenantId, task.WorkflowKey, task.WorkflowVersion, cancellationToken)).Node(task.NodeId);
        return TypedResults.Ok(new TaskDetail(
            task.ResId, task.ExecutionId, task.WorkflowKey, task.WorkflowVersion, task.NodeId, task.Kind, task.Title, task.Status,
            task.CreatedAt, task.ExpiresAt, ExecutionsFeature.Stack(task.StackJson),
            new TaskAssignees(
                [.. task.Assignees.Where(a => a.Kind == AssigneeKinds.User).Select(a => a.Value)],
                [.. task.Assignees.Where(a => a.Kind == AssigneeKinds.Group).Select(a => a.Value)]),
            node is FormNode form ? form.Schema.DeepClone() : null,
            node is ApprovalNode { RequireCommentOnReject: true },
            task.ToolCallsJson is null ? null : JsonNode.Parse(task.ToolCallsJson),
            task.ResolvedBy, task.ResolvedByName, task.ResolvedAt, task.Channel,
            task.OutputJson is null ? null : JsonNode.Parse(task.OutputJson))
        {
            Tally = task.TallyJson is null ? null : JsonNode.Parse(task.TallyJson),
            Votes = task.TallyJson is null ? null
                : Executions.Votes.AsJson(await db.TaskVotes.AsNoTracking().Where(v => v.ResId == task.ResId).OrderBy(v => v.Id).ToListAsync(cancellationToken)),
        });
    }
}
