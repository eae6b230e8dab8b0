using System.ComponentModel.DataAnnotations;
using ApprovalStudio.Workflows.Expressions;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>
/// The <c>Workflows:Expressions</c> section: the sandbox every expression of a definition runs in (edge conditions,
/// forEach items, set values, placeholders). One call is held to the string and array lengths before it allocates;
/// the whole evaluation to the memory budget (measured between statements), the time and the statements.
/// </summary>
public sealed class ExpressionOptions
{
    public const string SectionName = "Workflows:Expressions";

    [Range(typeof(TimeSpan), "00:00:00.010", "00:01:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(1);

    [Range(typeof(long), "1000000", "1000000000")]
    public long MaxMemoryBytes { get; set; } = 8_000_000;

    [Range(100, 10_000_000)]
    public int MaxStatements { get; set; } = 10_000;

    [Range(8, 1000)]
    public int MaxRecursion { get; set; } = 64;

    /// <summary>Characters one call may build; by default MaxMemoryBytes / 8.</summary>
    [Range(1000, int.MaxValue)]
    public int? MaxStringLength { get; set; }

    /// <summary>Elements one call may make or work through; by default MaxMemoryBytes / 64 rounded up to a power of two.</summary>
    [Range(100, 100_000_000)]
    public int? MaxArrayLength { get; set; }

    /// <summary>The largest value an expression may yield, as UTF-8 JSON.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxResultBytes { get; set; } = 1024 * 1024;

    public ExpressionLimits ToLimits()
    {
        var limits = new ExpressionLimits
        {
            Timeout = Timeout, MaxMemoryBytes = MaxMemoryBytes, MaxStatements = MaxStatements, MaxRecursion = MaxRecursion,
            MaxResultBytes = MaxResultBytes,
        };
        limits = MaxStringLength is { } characters ? limits with { MaxStringLength = characters } : limits;
        return MaxArrayLength is { } elements ? limits with { MaxArrayLength = elements } : limits;
    }
}

/// <summary>Rules across keys: one string or array must fit the memory budget it is part of.</summary>
public sealed class ExpressionOptionsValidator : IValidateOptions<ExpressionOptions>
{
    public ValidateOptionsResult Validate(string? name, ExpressionOptions options)
    {
        var limits = options.ToLimits();
        var failures = new List<string>();
        if (2L * limits.MaxStringLength > options.MaxMemoryBytes)
        {
            failures.Add($"{ExpressionOptions.SectionName}:MaxStringLength ({limits.MaxStringLength} characters, 2 bytes each) must fit {ExpressionOptions.SectionName}:MaxMemoryBytes ({options.MaxMemoryBytes}).");
        }

        if (8L * limits.MaxArrayLength > options.MaxMemoryBytes)
        {
            failures.Add($"{ExpressionOptions.SectionName}:MaxArrayLength ({limits.MaxArrayLength} elements, 8 bytes each at least) must fit {ExpressionOptions.SectionName}:MaxMemoryBytes ({options.MaxMemoryBytes}).");
        }

        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }
}
