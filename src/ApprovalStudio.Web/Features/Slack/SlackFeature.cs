using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Notifications;
using ApprovalStudio.Web.Infrastructure.Errors;
using ApprovalStudio.Web.Infrastructure.Security;
using ApprovalStudio.Workflows.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.Slack;

public static class SlackFeature
{
    /// <summary>Slack's interaction payloads are small; anything far larger is not Slack.</summary>
    private const int MaxBodyBytes = 256 * 1024;

    public static IHostApplicationBuilder AddSlack(this IHostApplicationBuilder builder)
    {
        builder.Services.AddScoped<SlackInteractions>();
        return builder;
    }

    public static IEndpointRouteBuilder MapSlack(this IEndpointRouteBuilder app)
    {
        app.MapPost("/integrations/slack/interactions", Interactions).WithTags("Slack").AllowAnonymous().DisableAntiforgery().RequireRateLimiting(RateLimits.Slack)
            .WithSummary("Slack's interactivity request URL: signed button presses (X-Slack-Signature v0), answered at once; the outcome follows through response_url.")
            .Accepts<IFormCollection>("application/x-www-form-urlencoded")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        return app;
    }

    private static async Task<Results<Ok, ProblemHttpResult>> Interactions(
        HttpRequest request, SlackInteractions interactions, IOptions<SlackOptions> options, TimeProvider clock, ILogger<SlackInteractions> log,
        CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (!settings.Receives)
        {
            return Problems.Status(StatusCodes.Status404NotFound, "Slack is not configured here.", "Set Slack:SigningSecret to receive Slack interactions.");
        }

        if (request.ContentLength > MaxBodyBytes || await ReadBodyAsync(request, cancellationToken) is not { } body)
        {
            return Problems.Status(StatusCodes.Status413PayloadTooLarge, "The request is too large for a Slack interaction.");
        }

        var signature = request.Headers["X-Slack-Signature"].ToString();
        var refusal = SlackSignature.Verify(settings.SigningSecret!, request.Headers["X-Slack-Request-Timestamp"].ToString(), signature, body,
            clock.GetUtcNow(), settings.SignatureWindow);
        if (refusal is not null)
        {
            SlackLog.Refused(log, refusal);
            return Problems.Status(StatusCodes.Status401Unauthorized, "The request is not signed by Slack.", refusal);
        }

        if (!await interactions.FirstTimeAsync(signature, cancellationToken))
        {
            SlackLog.Refused(log, "replay");
            return Problems.Status(StatusCodes.Status409Conflict, "This request was already received.", "A Slack request is taken once; this one is a replay.");
        }

        var form = QueryHelpers.ParseQuery(Encoding.UTF8.GetString(body));
        JsonObject? payload;
        try
        {
            payload = form.TryGetValue("payload", out var text) ? JsonNode.Parse(text.ToString()) as JsonObject : null;
        }
        catch (JsonException)
        {
            payload = null;
        }

        if (payload is null)
        {
            return Problems.Validation("payload", "payload is the interaction as a JSON object (application/x-www-form-urlencoded).");
        }

        if (UnreadableJson.Find(payload, "payload") is { } unreadable)
        {
            return Problems.Validation(unreadable.Path, unreadable.Problem);
        }

        await interactions.HandleAsync(payload, cancellationToken);
        return TypedResults.Ok();
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}
