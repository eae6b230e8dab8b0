using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Infrastructure.Faults;

/// <summary>
/// The <c>Faults</c> section: for crash tests only. <see cref="KillAt"/> names a point (or <c>point:detail</c>) where the
/// process kills itself with SIGKILL the first time it passes. Unset (always, outside tests): the points cost a null check.
/// </summary>
public sealed class FaultOptions
{
    public const string SectionName = "Faults";

    public string? KillAt { get; set; }
}

/// <summary>
/// Named places on the durable paths where a crash is the hardest case, for tests that kill the process there
/// (<c>kill -9</c> semantics: no cleanup, no flush), restart it, and check the run ends as it would have without the crash.
/// </summary>
public sealed class FaultPoints(IOptions<FaultOptions> options, ILogger<FaultPoints> log)
{
    /// <summary>An answer's statements ran in the writer's transaction; the commit has not.</summary>
    public const string ResumeBeforeCommit = "resume.before-commit";

    /// <summary>The answer is committed; its 202 is not written yet.</summary>
    public const string ResumeAfterCommit = "resume.after-commit";

    /// <summary>A new run (a start, a resume-from) is committed; its answer is not written yet.</summary>
    public const string StartAfterCommit = "start.after-commit";

    /// <summary>The worker found due items and is about to lease them: after the 202, before any worker took the item.</summary>
    public const string WorkerBeforeLease = "worker.before-lease";

    /// <summary>A step's engine ran (its http calls went out) and nothing of it is recorded yet. Detail: the queue item's kind.</summary>
    public const string StepBeforeCommit = "step.before-commit";

    private readonly string? _armed = options.Value.KillAt;

    public void Hit(string point, string? detail = null)
    {
        if (_armed is null || (_armed != point && _armed != $"{point}:{detail}"))
        {
            return;
        }

        FaultLog.Killing(log, _armed);
        Process.GetCurrentProcess().Kill();
    }
}

internal static partial class FaultLog
{
    [LoggerMessage(Level = LogLevel.Critical, Message = "Fault point {Point} armed (Faults:KillAt): killing the process")]
    public static partial void Killing(ILogger logger, string point);
}
