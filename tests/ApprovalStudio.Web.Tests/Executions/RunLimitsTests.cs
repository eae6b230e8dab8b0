using System.Net;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Workflows.Execution;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Tests.Executions;

/// <summary>
/// With the default settings, an expression that would allocate past the sandbox, or a node whose output passes the
/// node cap, fails its run at once with an error that says so: tried once (it used to be retried five times, each
/// attempt allocating gigabytes, before "JSON value of length 268435456 is too large"), and the app goes on answering.
/// </summary>
public sealed class RunLimitsTests
{
    private const string Repeat = """
        {"key":"repeat","name":"Repeat","start":"big","nodes":[{"id":"big","type":"set","values":{"v":"'x'.repeat(2**28)"}}],"edges":[]}
        """;

    // Each value is within the expression's 1 MiB; together they are 1.1 MB, past the node's.
    private const string Halves = """
        {"key":"halves","name":"Halves","start":"big","nodes":[{"id":"big","type":"set","values":{"a":"'x'.repeat(6e5)","b":"'y'.repeat(6e5)"}}],"edges":[]}
        """;

    private const string Small = """
        {"key":"small","name":"Small","start":"add","nodes":[{"id":"add","type":"set","values":{"n":"input.n + 1"}}],"edges":[]}
        """;

    [Fact]
    public async Task A_set_node_that_would_allocate_past_the_sandbox_fails_its_run_once_and_the_app_still_answers()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Repeat);
        await host.CreateWorkflowAsync(Small);

        var executionId = await host.StartRunAsync("repeat");
        var status = await host.WaitForAsync(executionId, s => (string?)s["status"] is "Completed" or "Failed");

        Assert.Equal(("Failed", "big"), ((string?)status["status"], (string?)status["errorNodeId"]));
        Assert.Contains("String.prototype.repeat would build a string of 268,435,456 characters; the limit is 1,000,000", (string)status["error"]!, StringComparison.Ordinal);
        await AssertTriedOnceAsync(host, executionId);
        await AssertStillAnswersAsync(host);
    }

    [Fact]
    public async Task A_node_output_over_the_cap_fails_its_run_once_and_is_not_stored()
    {
        await using var host = await AppHost.StartAsync();
        await host.CreateWorkflowAsync(Halves);
        await host.CreateWorkflowAsync(Small);

        var executionId = await host.StartRunAsync("halves");
        var status = await host.WaitForAsync(executionId, s => (string?)s["status"] is "Completed" or "Failed");

        Assert.Equal(("Failed", "big"), ((string?)status["status"], (string?)status["errorNodeId"]));
        Assert.Equal("The output of node 'big' is 1.1 MB; the limit is 1 MB.", (string?)status["error"]);
        await AssertTriedOnceAsync(host, executionId);
        await using (var db = host.Database.OpenContext())
        {
            var execution = await db.Executions.SingleAsync(e => e.Id == executionId);
            Assert.True(execution.StateJson!.Length < 1000, $"state of {execution.StateJson.Length} characters");
        }

        await AssertStillAnswersAsync(host);
    }

    [Fact]
    public async Task Run_limits_that_contradict_each_other_fail_at_start_naming_the_keys()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => AppHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Workflows:Runs:MaxNodeOutputBytes"] = "5000000",
        }));

        Assert.Contains("Workflows:Runs:MaxStateBytes", Flatten(error), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1024 * 1024, 8 * 1024 * 1024, 32L * 1024 * 1024, true)]
    [InlineData(1024 * 1024, 2 * 1024 * 1024, 1024 * 1024, true)]
    [InlineData(1024 * 1024, 2 * 1024 * 1024 - 1, 32L * 1024 * 1024, false)]
    [InlineData(1024 * 1024, 8 * 1024 * 1024, 1024 * 1024 - 1, false)]
    public void The_run_options_validator_requires_an_output_to_fit_the_state_twice_and_the_step(int node, int state, long step, bool valid) =>
        Assert.Equal(valid, new RunOptionsValidator().Validate(null, new RunOptions
        {
            MaxNodeOutputBytes = node, MaxStateBytes = state, MaxStepOutputBytes = step,
        }).Succeeded);

    [Theory]
    [InlineData(8_000_000, null, null, true)]
    [InlineData(8_000_000, 4_000_000, 1_000_000, true)]
    [InlineData(8_000_000, 4_000_001, null, false)]
    [InlineData(8_000_000, null, 1_000_001, false)]
    public void The_expression_options_validator_requires_one_string_or_array_to_fit_the_memory_budget(long memory, int? characters, int? elements, bool valid)
    {
        var options = new ExpressionOptions { MaxMemoryBytes = memory, MaxStringLength = characters, MaxArrayLength = elements };

        Assert.Equal(valid, new ExpressionOptionsValidator().Validate(null, options).Succeeded);
        Assert.Equal(characters ?? 1_000_000, options.ToLimits().MaxStringLength);
    }

    [Fact]
    public async Task The_expression_settings_reach_the_evaluator()
    {
        await using var host = await AppHost.StartAsync(settings: new Dictionary<string, string?> { ["Workflows:Expressions:MaxStringLength"] = "1000" });
        await host.CreateWorkflowAsync(Repeat.Replace("2**28", "1001", StringComparison.Ordinal));

        var executionId = await host.StartRunAsync("repeat");
        var status = await host.WaitForAsync(executionId, s => (string?)s["status"] is "Completed" or "Failed");

        Assert.Contains("String.prototype.repeat would build a string of 1,001 characters; the limit is 1,000", (string)status["error"]!, StringComparison.Ordinal);
    }

    private static async Task AssertTriedOnceAsync(AppHost host, string executionId)
    {
        await using var db = host.Database.OpenContext();
        var item = await db.Queue.SingleAsync(q => q.ExecutionId == executionId);
        Assert.Equal((QueueStatuses.Done, 0), (item.Status, item.Attempts));
        Assert.Equal(1, await db.ExecutionEvents.CountAsync(e => e.ExecutionId == executionId && e.Type == ExecutionEventTypes.Failed));
        var run = await db.NodeRuns.SingleAsync(r => r.ExecutionId == executionId);
        Assert.Equal((nameof(NodeRunStatus.Failed), null), (run.Status, run.OutputJson));
    }

    private static async Task AssertStillAnswersAsync(AppHost host)
    {
        Assert.Equal(HttpStatusCode.OK, (await host.Anonymous.GetAsync("/health/live")).StatusCode);
        var executionId = await host.StartRunAsync("small", """{"n":1}""");
        var status = await host.WaitForAsync(executionId, s => (string?)s["status"] is "Completed" or "Failed");
        Assert.Equal(("Completed", 2), ((string?)status["status"], (int?)status["output"]!["n"]));
    }

    private static string Flatten(Exception error)
    {
        var messages = new List<string>();
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            messages.Add(e.Message);
        }

        return string.Join(" | ", messages);
    }
}
