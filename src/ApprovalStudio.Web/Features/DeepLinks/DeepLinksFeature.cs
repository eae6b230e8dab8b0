using System.ComponentModel.DataAnnotations;
using ApprovalStudio.Web.Features.People;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Errors;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.DeepLinks;

public sealed record DeepLinkCreated(string Url, DateTime ExpiresAt);

/// <summary>The body of <c>POST /api/tasks/{resId}/links</c>: the assignee the link is for.</summary>
public sealed record DeepLinkRequest([property: Required(ErrorMessage = "userId names the assignee the link is for.")] string? UserId);

public static class DeepLinksFeature
{
    public static IEndpointRouteBuilder MapDeepLinks(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/tasks/{resId}/links", Create).WithTags("Tasks").RequireAuthorization(Policies.Admin).RequireRateLimiting(RateLimits.Api)
            .WithSummary("A signed link for one assignee to answer one task without signing in (admin); expires with the task, else in 7 days.")
            .Accepts<DeepLinkRequest>("application/json")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<Results<Created<DeepLinkCreated>, ProblemHttpResult>> Create(
        string resId, HttpRequest request, Actor actor, AppDbContext db, PeopleDirectory people, DeepLinkTokens tokens,
        IOptions<AppOptions> options, TimeProvider clock, CancellationToken cancellationToken)
    {
        var (body, problem) = await Problems.ReadBodyAsync<DeepLinkRequest>(request, "{userId}", cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var userId = body!.UserId!;

        var task = await db.Tasks.AsNoTracking().Include(t => t.Assignees).SingleOrDefaultAsync(t => t.ResId == resId && t.TenantId == actor.TenantId, cancellationToken);
        if (task is null)
        {
            return Problems.NotFound("The task");
        }

        var person = await people.FindAsync(actor.TenantId, userId, cancellationToken);
        var recipient = PeopleDirectory.AsAssignee(actor.TenantId, userId, person);
        if (!Answerers.May(recipient, task))
        {
            return Problems.Validation("userId", $"'{userId}' is not an assignee of this task (by user, or by a group of the directory).");
        }

        var expires = task.ExpiresAt ?? clock.GetUtcNow().UtcDateTime + DeepLinkTokens.DefaultLifetime;
        var baseUrl = options.Value.PublicBaseUrl is { Length: > 0 } configured ? configured : $"{request.Scheme}://{request.Host}";
        return TypedResults.Created((string?)null, new DeepLinkCreated(tokens.Link(baseUrl, new DeepLinkGrant(task.ResId, task.TenantId, userId, recipient.Name, expires)), expires));
    }
}
