using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>
/// The <c>Workflows:Runs</c> section: what a run may store, as UTF-8 JSON. A node whose output is larger, or that would
/// take the run's state or its step's records past their limits, fails with an error that says so; the run fails at
/// once (the error is the definition's, not the machine's, so the worker does not retry it).
/// </summary>
public sealed class RunOptions
{
    public const string SectionName = "Workflows:Runs";

    /// <summary>
    /// One node's output. An http node's output holds the response body it read (at most
    /// <see cref="HttpNodeOptions.MaxResponseBytes"/>), stored escaped: a body near that cap can come out larger.
    /// </summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxNodeOutputBytes { get; set; } = 1024 * 1024;

    /// <summary>The run's state: its input, the outputs it keeps (each twice: by node and as the last one), loops and transcript.</summary>
    [Range(4096, 256 * 1024 * 1024)]
    public int MaxStateBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>The outputs one step records: the node log and the run's events keep a copy of each.</summary>
    [Range(typeof(long), "4096", "1073741824")]
    public long MaxStepOutputBytes { get; set; } = 32L * 1024 * 1024;
}

/// <summary>Rules across keys: an output the node cap allows must fit the state and the step.</summary>
public sealed class RunOptionsValidator : IValidateOptions<RunOptions>
{
    public ValidateOptionsResult Validate(string? name, RunOptions options)
    {
        var failures = new List<string>();
        if (2L * options.MaxNodeOutputBytes > options.MaxStateBytes)
        {
            failures.Add($"{RunOptions.SectionName}:MaxStateBytes ({options.MaxStateBytes}) must hold twice {RunOptions.SectionName}:MaxNodeOutputBytes ({options.MaxNodeOutputBytes}): the state keeps an output by node and as the last one.");
        }

        if (options.MaxStepOutputBytes < options.MaxNodeOutputBytes)
        {
            failures.Add($"{RunOptions.SectionName}:MaxStepOutputBytes ({options.MaxStepOutputBytes}) must not be less than {RunOptions.SectionName}:MaxNodeOutputBytes ({options.MaxNodeOutputBytes}).");
        }

        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }
}
