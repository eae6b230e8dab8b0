using System.Text.Json.Nodes;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Errors;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Security;
using ApprovalStudio.Workflows.Definitions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.Workflows;

public sealed record WorkflowCreated(string Key, int Version, string? WebhookSecret);

public sealed record WorkflowSummary(string Key, string Name, int LatestVersion, DateTime CreatedAt, DateTime UpdatedAt);

public sealed record WorkflowVersionView(string Key, string Name, int Version, DateTime CreatedAt, string CreatedBy, JsonNode? Definition);

public static class WorkflowsFeature
{
    public static IHostApplicationBuilder AddWorkflows(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<DefinitionCache>();
        builder.Services.AddScoped<WorkflowCatalog>();
        return builder;
    }

    public static IEndpointRouteBuilder MapWorkflows(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/workflows").WithTags("Workflows").RequireAuthorization(Policies.Member)
            .RequireRateLimiting(RateLimits.Api);
        group.MapPost("/", Create).RequireAuthorization(Policies.Admin)
            .WithSummary("Create a workflow, or a new version of an existing key (admin).")
            .Accepts<JsonObject>("application/json")
            .ProducesProblem(StatusCodes.Status409Conflict);
        group.MapGet("/", List).WithSummary("The tenant's workflows.");
        group.MapGet("/{key}", Latest).WithSummary("The latest version of a workflow's definition.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapGet("/{key}/versions/{version:int}", Version).WithSummary("One version of a workflow's definition.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<Results<Created<WorkflowCreated>, ProblemHttpResult>> Create(
        HttpRequest request, Actor actor, WorkflowCatalog catalog, CancellationToken cancellationToken)
    {
        var (body, problem) = await Problems.ReadJsonAsync(request, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var (definition, problems) = DefinitionParser.Parse(body);
        if (definition is null)
        {
            throw new InvalidDefinitionException(problems);
        }

        try
        {
            var created = await catalog.CreateAsync(actor, definition, (JsonObject)body!, cancellationToken);
            return TypedResults.Created($"/api/workflows/{created.Key}/versions/{created.Version}",
                new WorkflowCreated(created.Key, created.Version, created.WebhookSecret));
        }
        catch (DbUpdateException)
        {
            return Problems.Status(StatusCodes.Status409Conflict, "Another version of this workflow was saved at the same moment; retry.");
        }
    }

    private static async Task<Ok<WorkflowSummary[]>> List(Actor actor, AppDbContext db, CancellationToken cancellationToken)
    {
        var list = await db.Workflows.AsNoTracking().Where(w => w.TenantId == actor.TenantId).OrderBy(w => w.Key)
            .Select(w => new WorkflowSummary(w.Key, w.Name, w.LatestVersion, w.CreatedAt, w.UpdatedAt))
            .ToArrayAsync(cancellationToken);
        return TypedResults.Ok(list);
    }

    private static Task<Results<Ok<WorkflowVersionView>, ProblemHttpResult>> Latest(
        string key, Actor actor, AppDbContext db, CancellationToken cancellationToken) =>
        FindVersion(key, null, actor, db, cancellationToken);

    private static Task<Results<Ok<WorkflowVersionView>, ProblemHttpResult>> Version(
        string key, int version, Actor actor, AppDbContext db, CancellationToken cancellationToken) =>
        FindVersion(key, version, actor, db, cancellationToken);

    private static async Task<Results<Ok<WorkflowVersionView>, ProblemHttpResult>> FindVersion(
        string key, int? version, Actor actor, AppDbContext db, CancellationToken cancellationToken)
    {
        var found = await db.WorkflowVersions.AsNoTracking()
            .Where(v => v.TenantId == actor.TenantId && v.Key == key && (version == null || v.Version == version))
            .OrderByDescending(v => v.Version)
            .Join(db.Workflows, v => new { v.TenantId, v.Key }, w => new { w.TenantId, w.Key }, (v, w) => new { v, w.Name })
            .FirstOrDefaultAsync(cancellationToken);
        return found is null
            ? Problems.NotFound($"Workflow '{key}'" + (version is null ? string.Empty : $" version {version}"))
            : TypedResults.Ok(new WorkflowVersionView(key, found.Name, found.v.Version, found.v.CreatedAt, found.v.CreatedBy, JsonNode.Parse(found.v.DefinitionJson)));
    }
}
