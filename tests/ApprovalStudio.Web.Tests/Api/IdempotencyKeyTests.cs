using System.Net;
using ApprovalStudio.Web.Infrastructure.Idempotency;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>
/// <c>Idempotency-Key</c> on answering and starting (IETF draft semantics): the same key and body get the first answer
/// again and change nothing; the same key with another body is a 422; a key still in flight is a 409 with Retry-After,
/// and one whose instance died is taken over; keys are per tenant, expire, and a malformed one is a 400 naming it.
/// </summary>
public sealed class IdempotencyKeyTests
{
    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task A_retried_answer_gets_the_first_answer_again_and_counts_once_and_another_body_with_the_key_is_422(Provider provider)
    {
        await using var host = await AppHost.StartAsync(provider);
        await host.CreateWorkflowAsync(Flows.Review);
        var executionId = await host.StartRunAsync("review-flow");
        var resId = await host.WaitForTaskAsync(executionId);
        using var bob = host.Client(host.Token("bob"));

        var first = await PostAsync(bob, $"/api/executions/{resId}/resume", """{"acknowledged":true,"comment":"seen"}""", "\"answer-7f3a\"");
        var again = await PostAsync(bob, $"/api/executions/{resId}/resume", """{"acknowledged":true,"comment":"seen"}""", "\"answer-7f3a\"");

        Assert.Equal((HttpStatusCode.Accepted, (string?)null), (first.Status, first.Replayed));
        Assert.Equal((HttpStatusCode.Accepted, "true"), (again.Status, again.Replayed));
        Assert.Equal(first.Body, again.Body);
        Assert.Equal(first.Location, again.Location);
        Assert.Contains(executionId, again.Body, StringComparison.Ordinal);

        // Keys are the caller's own: another assignee with the same key and body is answered for themself, not replayed.
        using var ann = host.Client(host.Token("ann", ["ops"]));
        var someoneElse = await PostAsync(ann, $"/api/executions/{resId}/resume", """{"acknowledged":true,"comment":"seen"}""", "\"answer-7f3a\"");
        Assert.Equal((HttpStatusCode.Conflict, (string?)null), (someoneElse.Status, someoneElse.Replayed));

        var other = await PostAsync(bob, $"/api/executions/{resId}/resume", """{"acknowledged":true,"comment":"changed my mind"}""", "\"answer-7f3a\"");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, other.Status);
        Assert.Contains("\"Idempotency-Key\"", other.Body, StringComparison.Ordinal);

        // Without a key the route answers as always: the task was answered once, by the first request.
        var unkeyed = await PostAsync(bob, $"/api/executions/{resId}/resume", """{"acknowledged":true}""", key: null);
        Assert.Equal(HttpStatusCode.Conflict, unkeyed.Status);
        await using var db = host.Database.OpenContext();
        Assert.Equal(1, await db.Audit.CountAsync(a => a.ResId == resId));
        var done = await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");
        Assert.Equal("bob", (string?)done["output"]!["by"]);
    }

    [Fact]
    public async Task Starting_twice_with_one_key_starts_one_run_and_keys_are_per_tenant()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Flows.Review);
        await host.CreateWorkflowAsync(Flows.Review, tenant: "globex");
        using var acme = host.Admin();
        using var globex = host.Admin("globex");

        var first = await PostAsync(acme, "/api/workflows/review-flow/executions", """{"input":{"doc":"a"}}""", "start-1");
        var again = await PostAsync(acme, "/api/workflows/review-flow/executions", """{"input":{"doc":"a"}}""", "start-1");
        var elsewhere = await PostAsync(globex, "/api/workflows/review-flow/executions", """{"input":{"doc":"a"}}""", "start-1");

        Assert.Equal(first.Body, again.Body);
        Assert.Equal("true", again.Replayed);
        Assert.Null(elsewhere.Replayed);
        Assert.NotEqual(first.Body, elsewhere.Body);
        await using var db = host.Database.OpenContext();
        Assert.Equal(1, await db.Executions.CountAsync(e => e.TenantId == AppHost.Tenant));
        Assert.Equal(1, await db.Executions.CountAsync(e => e.TenantId == "globex"));
    }

    [Fact]
    public async Task A_key_in_flight_is_a_409_with_retry_after_one_whose_instance_died_is_taken_over_and_an_expired_one_is_new()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Flows.Review);
        using var admin = host.Admin();
        var first = await PostAsync(admin, "/api/workflows/review-flow/executions", "{}", "start-2");
        Assert.Equal(HttpStatusCode.Accepted, first.Status);

        // As if another request with the key were being answered right now.
        await SetAsync(host, "start-2", IdempotencyStatuses.InFlight, lockedUntil: DateTime.UtcNow.AddSeconds(30), expiresAt: null);
        var busy = await PostAsync(admin, "/api/workflows/review-flow/executions", "{}", "start-2");
        Assert.Equal(HttpStatusCode.Conflict, busy.Status);
        Assert.InRange(int.Parse(busy.RetryAfter!, System.Globalization.CultureInfo.InvariantCulture), 1, 30);

        // Its instance died: past its hold, a retry takes the key and is answered. The key says which run its first holder
        // started (written in that start's commit), so the answer is for that run, not a second one.
        await SetAsync(host, "start-2", IdempotencyStatuses.InFlight, lockedUntil: DateTime.UtcNow.AddSeconds(-1), expiresAt: null);
        var takenOver = await PostAsync(admin, "/api/workflows/review-flow/executions", "{}", "start-2");
        Assert.Equal((HttpStatusCode.Accepted, (string?)null), (takenOver.Status, takenOver.Replayed));
        Assert.Equal(first.Body, takenOver.Body);
        Assert.Equal(first.Location, takenOver.Location);
        Assert.Equal(takenOver.Body, (await PostAsync(admin, "/api/workflows/review-flow/executions", "{}", "start-2")).Body);

        // Past its expiry the key names a new request.
        await SetAsync(host, "start-2", IdempotencyStatuses.Done, lockedUntil: null, expiresAt: DateTime.UtcNow.AddSeconds(-1));
        var fresh = await PostAsync(admin, "/api/workflows/review-flow/executions", """{"input":{"doc":"other"}}""", "start-2");
        Assert.Equal((HttpStatusCode.Accepted, (string?)null), (fresh.Status, fresh.Replayed));
        await using var db = host.Database.OpenContext();
        Assert.Equal(2, await db.Executions.CountAsync()); // the first and the fresh one
    }

    [Fact]
    public async Task On_the_anonymous_webhook_route_keys_are_per_run_and_a_retry_is_answered_as_the_first_was()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync("""{"key":"quick","start":"w","nodes":[{"id":"w","type":"wait"},{"id":"x","type":"set","values":{"v":"w.value"}}],"edges":[{"from":"w","to":"x"}]}""");
        var secret = (string)(await (await host.Admin().PostAsync("/api/workflows/quick/webhook-secret/rotate", AppHost.Json("{}"))).ReadJsonAsync())!["webhookSecret"]!;
        var first = await host.StartRunAsync("quick");
        var second = await host.StartRunAsync("quick");
        await host.WaitForTaskAsync(first, "w");
        await host.WaitForTaskAsync(second, "w");
        string Url(string run) => $"/v1/runs/{run}/nodes/w/resume?secret={Uri.EscapeDataString(secret)}";

        var answered = await PostAsync(host.Anonymous, Url(first), """{"value":1}""", "hook-1");
        var retried = await PostAsync(host.Anonymous, Url(first), """{"value":1}""", "hook-1");
        var otherRun = await PostAsync(host.Anonymous, Url(second), """{"value":1}""", "hook-1");

        Assert.Contains("\"resumed\"", answered.Body, StringComparison.Ordinal);
        Assert.Equal((answered.Status, answered.Body, "true"), (retried.Status, retried.Body, retried.Replayed));
        Assert.Equal((answered.Status, (string?)null), (otherRun.Status, otherRun.Replayed)); // another run: its own key space
        Assert.Contains("\"resumed\"", otherRun.Body, StringComparison.Ordinal);
        await using var db = host.Database.OpenContext();
        Assert.Equal(2, await db.Audit.CountAsync());
    }

    [Theory]
    [InlineData("")]
    [InlineData("\"\"")]
    [InlineData("has space")]
    [InlineData("tab\tinside")]
    public async Task A_malformed_key_is_a_400_naming_it_and_changes_nothing(string key)
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Flows.Review);
        using var admin = host.Admin();

        var refused = await PostAsync(admin, "/api/workflows/review-flow/executions", "{}", key);
        var tooLong = await PostAsync(admin, "/api/workflows/review-flow/executions", "{}", new string('k', IdempotencyKeys.MaxLength + 1));

        Assert.All([refused, tooLong], r =>
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.Status);
            Assert.Contains("\"Idempotency-Key\"", r.Body, StringComparison.Ordinal);
        });
        await using var db = host.Database.OpenContext();
        Assert.Equal(0, await db.Executions.CountAsync());
        Assert.Equal(0, await db.IdempotencyKeys.CountAsync());
    }

    private static async Task SetAsync(AppHost host, string key, string status, DateTime? lockedUntil, DateTime? expiresAt)
    {
        await using var db = host.Database.OpenContext();
        var row = await db.IdempotencyKeys.SingleAsync(k => k.Key == key);
        row.Status = status;
        row.LockedUntil = lockedUntil;
        row.ExpiresAt = expiresAt ?? row.ExpiresAt;
        await db.SaveChangesAsync();
    }

    private static async Task<(HttpStatusCode Status, string Body, string? Replayed, string? Location, string? RetryAfter)> PostAsync(
        HttpClient client, string url, string json, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = AppHost.Json(json) };
        if (key is not null)
        {
            request.Headers.TryAddWithoutValidation(IdempotencyKeys.Header, key);
        }

        using var response = await client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(),
            response.Headers.TryGetValues(IdempotencyKeys.ReplayedHeader, out var replayed) ? replayed.Single() : null,
            response.Headers.Location?.ToString(),
            response.Headers.RetryAfter?.Delta is { } delta ? ((int)delta.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture) : null);
    }
}
