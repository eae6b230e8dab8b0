using System.Net;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>What operators rely on: health, the OpenAPI document, configuration errors, dead letters.</summary>
public sealed class PlatformTests
{
    [Fact]
    public async Task Health_endpoints_answer_and_the_openapi_document_lists_every_route()
    {
        await using var host = await AppHost.StartAsync();

        Assert.Equal(HttpStatusCode.OK, (await host.Anonymous.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Anonymous.GetAsync("/health/ready")).StatusCode);
        var document = await AppHost.SendAsync(host.Anonymous, HttpMethod.Get, "/openapi/v1.json");
        var paths = document.Body!["paths"]!.AsObject().Select(p => p.Key).ToList();
        Assert.Superset(new HashSet<string>
        {
            "/api/workflows", "/api/workflows/{key}", "/api/workflows/{key}/executions",
            "/api/executions/{executionId}/status", "/api/executions/{executionId}/nodes", "/api/executions/{executionResId}/resume",
        }, paths.ToHashSet());
        Assert.Equal(HttpStatusCode.OK, (await host.Anonymous.GetAsync("/scalar/v1")).StatusCode);
    }

    [Fact]
    public async Task A_queue_item_that_keeps_failing_is_dead_lettered_and_its_run_shows_the_error()
    {
        await using var host = await AppHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Workflows:Worker:MaxAttempts"] = "2",
            ["Workflows:Worker:BaseBackoff"] = "00:00:00.050",
        });
        await host.CreateWorkflowAsync(Flows.Review);
        var executionId = await host.StartRunAsync("review-flow");
        var resId = await host.WaitForTaskAsync(executionId);
        await using (var db = host.Database.OpenContext())
        {
            // Poison the run: its stored state no longer reads back.
            await db.Executions.Where(e => e.Id == executionId).ExecuteUpdateAsync(s => s.SetProperty(e => e.StateJson, "{not json"));
        }

        using var response = await host.Client(host.Token("bob")).PostJsonAsync($"/api/executions/{resId}/resume", """{"acknowledged":true}""");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        var failed = await host.WaitForAsync(executionId, s => (string?)s["status"] == "Failed");
        Assert.Contains("gave up after 2 attempts", (string?)failed["error"]);
        await using var check = host.Database.OpenContext();
        var item = await check.Queue.SingleAsync(q => q.ResId == resId);
        Assert.Equal((QueueStatuses.DeadLettered, 2), (item.Status, item.Attempts));
        Assert.NotNull(item.LastError);
    }

    [Fact]
    public async Task Every_console_log_line_of_the_running_app_starts_with_its_utc_time()
    {
        await using var database = TestDatabase.Create(Provider.Sqlite);
        await using var app = await AppProcess.StartAsync(database, AppHost.NewSigningKey());

        var lines = app.Output.Split('\n').Where(l => l.Contains(": ", StringComparison.Ordinal) && !l.StartsWith(' ')).ToList();
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z (trce|dbug|info|warn|fail|crit): ", l));
    }

    [Fact]
    public async Task An_unknown_database_provider_fails_at_start_naming_the_key()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => AppHost.StartAsync(settings: new Dictionary<string, string?> { ["Database:Provider"] = "Oracle" }));

        Assert.Contains("Database:Provider", Flatten(error));
    }

    [Fact]
    public async Task A_short_signing_key_fails_at_start_naming_the_key()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => AppHost.StartAsync(signingKey: Convert.ToBase64String(new byte[16])));

        Assert.Contains("Auth:Local:SigningKey", Flatten(error));
    }

    [Fact]
    public async Task Worker_settings_that_contradict_each_other_fail_at_start_naming_the_keys()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => AppHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Workflows:Worker:BaseBackoff"] = "00:10:00",
            ["Workflows:Worker:MaxBackoff"] = "00:01:00",
        }));

        Assert.Contains("Workflows:Worker:BaseBackoff", Flatten(error));
    }

    [Theory]
    [InlineData("00:00:02", "00:01:00", true)]
    [InlineData("00:02:00", "00:01:00", false)]
    public void The_worker_options_validator_requires_backoff_within_its_maximum(string baseBackoff, string maxBackoff, bool valid)
    {
        var result = new WorkerOptionsValidator().Validate(null, new WorkerOptions
        {
            BaseBackoff = TimeSpan.Parse(baseBackoff, System.Globalization.CultureInfo.InvariantCulture),
            MaxBackoff = TimeSpan.Parse(maxBackoff, System.Globalization.CultureInfo.InvariantCulture),
        });

        Assert.Equal(valid, result.Succeeded);
    }

    [Fact]
    public void Backoff_doubles_per_attempt_up_to_the_maximum()
    {
        var options = new WorkerOptions { BaseBackoff = TimeSpan.FromSeconds(2), MaxBackoff = TimeSpan.FromSeconds(10) };

        Assert.Equal([2, 4, 8, 10, 10], Enumerable.Range(1, 5).Select(a => options.Backoff(a).TotalSeconds));
    }

    private static string Flatten(Exception error)
    {
        var messages = new List<string>();
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            messages.Add(e.Message);
            if (e is AggregateException aggregate)
            {
                messages.AddRange(aggregate.InnerExceptions.Select(Flatten));
            }

            if (e is OptionsValidationException validation)
            {
                messages.AddRange(validation.Failures);
            }
        }

        return string.Join(" | ", messages);
    }
}
