using System.Text.Json;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Errors;
using ApprovalStudio.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ApprovalStudio.Web.Features.People;

public static class PeopleFeature
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

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
        var (body, problem) = await Problems.ReadJsonAsync(request, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        PersonInput? input;
        try
        {
            input = body?.Deserialize<PersonInput>(JsonOptions);
        }
        catch (JsonException ex)
        {
            return Problems.Validation(ex.Path?.TrimStart('$', '.') is { Length: > 0 } path ? path : "$", "Wrong type: " + ex.Message);
        }

        if (input is null)
        {
            return Problems.Validation("$", "The body is a JSON object {name, email, groups, slackUserId, password}.");
        }

        var (person, created, errors) = await people.UpsertAsync(actor.TenantId, userId, input, cancellationToken);
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
