using System.ComponentModel.DataAnnotations;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Infrastructure;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Errors;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.Notifications;

/// <summary>The body of <c>PUT /api/message-templates/{name}</c>: the tenant's own Liquid text for the template.</summary>
public sealed record MessageTemplateInput([property: Required(ErrorMessage = MessageTemplates.SourceRequired)] string? Source);

public sealed record MessageTemplateView(string Name, string Source, bool IsDefault, string? Preview = null);

/// <summary>One message about a task, for operators; the address (and a Slack response_url) is left out.</summary>
public sealed record NotificationView(
    long Id, string ResId, string Kind, string Channel, string? RecipientUserId, string Status, int Attempts, DateTime AvailableAt, DateTime? SentAt, string? LastError);

public static class NotificationsFeature
{
    public static IHostApplicationBuilder AddNotifications(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<NotificationOptions>().BindConfiguration(NotificationOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<SmtpOptions>().BindConfiguration(SmtpOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<AppOptions>, ChannelOptionsValidator>();
        builder.Services.AddSingleton<NotificationSignal>();
        builder.Services.AddSingleton<ITaskOutbox, NotificationPlanner>();
        builder.Services.AddScoped<MessageTemplates>();
        builder.Services.AddScoped<NotificationDelivery>();
        builder.Services.AddScoped<FailedNotifications>();
        builder.Services.AddSingleton<EmailSender>();
        builder.Services.AddOptions<SlackOptions>().BindConfiguration(SlackOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddHttpClient<SlackClient>(c => c.Timeout = TimeSpan.FromSeconds(15));

        // A response_url carries its capability in the path, which HttpClient's request lines would log:
        // keep this client's logging at Warning whatever the configuration says.
        builder.Logging.AddFilter($"System.Net.Http.HttpClient.{nameof(SlackClient)}", LogLevel.Warning);
        builder.Services.AddHostedService<NotificationDispatcher>();
        return builder;
    }

    public static IEndpointRouteBuilder MapMessageTemplates(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/message-templates").WithTags("Notifications").RequireAuthorization(Policies.Admin)
            .RequireRateLimiting(RateLimits.Api);
        group.MapGet("/", List).WithSummary("The tenant's message templates (Liquid): its own where set, else the defaults (admin).");
        group.MapPut("/{name}", Put).WithSummary("Replace one template with the tenant's own {\"source\"}; checked by rendering a sample task (admin).")
            .Accepts<MessageTemplateInput>("application/json")
            .ProducesProblem(StatusCodes.Status404NotFound);
        group.MapDelete("/{name}", Delete).WithSummary("Go back to the default for one template (admin).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        app.MapGet("/api/tasks/{resId}/notifications", ForTask).WithTags("Notifications").RequireAuthorization(Policies.Admin)
            .RequireRateLimiting(RateLimits.Api)
            .WithSummary("What was sent about one task, to whom, through which channel, and what failed (admin).")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<Ok<List<MessageTemplateView>>> List(Actor actor, MessageTemplates templates, CancellationToken cancellationToken) =>
        TypedResults.Ok(await templates.ListAsync(actor.TenantId, cancellationToken));

    private static async Task<Results<Ok<MessageTemplateView>, ProblemHttpResult>> Put(
        string name, HttpRequest request, Actor actor, MessageTemplates templates, CancellationToken cancellationToken)
    {
        if (!MessageTemplates.Defaults.ContainsKey(name))
        {
            return UnknownName(name);
        }

        var (body, problem) = await Problems.ReadBodyAsync<MessageTemplateInput>(request, "{source}", cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var (saved, failure) = await templates.SaveAsync(actor.TenantId, actor.UserId, name, body!.Source, cancellationToken);
        return saved is null ? Problems.Validation("source", failure!) : TypedResults.Ok(saved);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(string name, Actor actor, MessageTemplates templates, CancellationToken cancellationToken)
    {
        if (!MessageTemplates.Defaults.ContainsKey(name))
        {
            return UnknownName(name);
        }

        await templates.ResetAsync(actor.TenantId, name, cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<List<NotificationView>>, ProblemHttpResult>> ForTask(
        string resId, Actor actor, AppDbContext db, CancellationToken cancellationToken)
    {
        var tenant = actor.TenantId;
        if (!await db.Tasks.AnyAsync(t => t.ResId == resId && t.TenantId == tenant, cancellationToken))
        {
            return Problems.NotFound("The task");
        }

        return TypedResults.Ok(await Views(db.Notifications.Where(n => n.ResId == resId)).ToListAsync(cancellationToken));
    }

    /// <summary>What was sent about a run's tasks, by node (for the run page of an admin).</summary>
    public static async Task<List<(string NodeId, NotificationView Message)>> ForRunAsync(
        AppDbContext db, string tenant, string executionId, CancellationToken cancellationToken)
    {
        var nodes = await db.Tasks.AsNoTracking().Where(t => t.ExecutionId == executionId && t.TenantId == tenant)
            .ToDictionaryAsync(t => t.ResId, t => t.NodeId, cancellationToken);
        var messages = await Views(db.Notifications.Where(n => n.ExecutionId == executionId && n.TenantId == tenant)).ToListAsync(cancellationToken);
        return [.. messages.Select(m => (nodes.GetValueOrDefault(m.ResId, "?"), m))];
    }

    private static IQueryable<NotificationView> Views(IQueryable<NotificationRecord> rows) => rows.AsNoTracking().OrderBy(n => n.Id)
        .Select(n => new NotificationView(n.Id, n.ResId, n.Kind, n.Channel, n.RecipientUserId, n.Status, n.Attempts, n.AvailableAt, n.SentAt, n.LastError));

    private static ProblemHttpResult UnknownName(string name) =>
        Problems.Status(StatusCodes.Status404NotFound, $"There is no template '{name}'.", $"The templates are {string.Join(", ", MessageTemplates.Names)}.");
}
