using System.ComponentModel.DataAnnotations;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>The <c>Workflows:Worker</c> section: how the background worker drains the durable queue.</summary>
public sealed class WorkerOptions
{
    public const string SectionName = "Workflows:Worker";

    /// <summary>Off only for an API-only instance; some instance must run the worker.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often the worker looks for work it was not told about (other instances, retries, deadlines).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a leased item is the worker's; after that another worker may take it over.</summary>
    [Range(typeof(TimeSpan), "00:00:00.500", "01:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromMinutes(1);

    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 5;

    /// <summary>
    /// Steps run at once; concurrent steps share the writer's commits. 8 and 32 measured best on two cores against 4/16
    /// and 16/64 (benchmarks/README.md, "Worker width").
    /// </summary>
    [Range(1, 64)]
    public int Concurrency { get; set; } = 8;

    /// <summary>Items leased per poll.</summary>
    [Range(1, 1000)]
    public int BatchSize { get; set; } = 32;

    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan BaseBackoff { get; set; } = TimeSpan.FromSeconds(2);

    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromMinutes(5);

    public TimeSpan Backoff(int attempts) => Leases.Backoff(BaseBackoff, MaxBackoff, attempts);
}

/// <summary>Rules across keys that data annotations cannot say.</summary>
public sealed class WorkerOptionsValidator : IValidateOptions<WorkerOptions>
{
    public ValidateOptionsResult Validate(string? name, WorkerOptions options)
    {
        var failures = new List<string>();
        if (options.BaseBackoff > options.MaxBackoff)
        {
            failures.Add($"{WorkerOptions.SectionName}:BaseBackoff ({options.BaseBackoff}) must not exceed {WorkerOptions.SectionName}:MaxBackoff ({options.MaxBackoff}).");
        }

        if (options.LeaseDuration <= options.PollInterval)
        {
            failures.Add($"{WorkerOptions.SectionName}:LeaseDuration ({options.LeaseDuration}) must be longer than {WorkerOptions.SectionName}:PollInterval ({options.PollInterval}).");
        }

        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }
}
