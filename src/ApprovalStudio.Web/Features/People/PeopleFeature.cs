using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Errors;
using ApprovalStudio.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ApprovalStudio.Web.Features.People;

public static class PeopleFeature
{
    public static IHostApplicationBuilder AddPeople(this IHostApplicationBuilder builder)
    {
        builder.Services.AddScoped<PeopleDirectory>();
        return builder;
    }

    public static IEndpointRouteBuilder MapPeople(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/users").WithTags("People").RequireAuthorization(Policies.Admin)
            .RequireRateLimiting(RateLimits.Api);
        group.MapPut("/{userId}", Upsert).WithSummary("Create or update a person of the tenant: name, email, groups, Slack id, local password (admin).")
            .Accepts<PersonInput>("application/json");
        group.MapGet("/{userId}", Get).WithSummary("One person of the tenant (admin).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<Results<Ok<PersonView>, Created<PersonView>, ProblemHttpResult>> Upsert(
        string userId, HttpRequest request, Actor actor, PeopleDirectory people, CancellationToken cancellationToken)
    {
        var (input, problem) = await Problems.ReadBodyAsync<PersonInput>(request, "{name, email?, groups?, slackUserId?, password?, roles?}", cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var (person, created, errors) = await people.UpsertAsync(actor.TenantId, userId, input!, cancellationToken);
        if (person is null)
        {
            return Problems.Validation(errors);
        }

        return created ? TypedResults.Created($"/api/users/{userId}", person) : TypedResults.Ok(person);
    }

    private static async Task<Results<Ok<PersonView>, ProblemHttpResult>> Get(
        string userId, Actor actor, PeopleDirectory people, CancellationToken cancellationToken)
    {
        var user = await people.FindAsync(actor.TenantId, userId, cancellationToken);
        return user is null ? Problems.NotFound($"Person '{userId}'") : TypedResults.Ok(PeopleDirectory.View(user));
    }
}
