using ApprovalStudio.Workflows.Execution;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>The stored names of <see cref="RunStatus"/> (CONTRACT §3).</summary>
public static class ExecutionStatuses
{
    public const string Running = nameof(RunStatus.Running);
    public const string Suspended = nameof(RunStatus.Suspended);
    public const string Resuming = nameof(RunStatus.Resuming);
    public const string Completed = nameof(RunStatus.Completed);
    public const string Failed = nameof(RunStatus.Failed);
    public const string Cancelled = nameof(RunStatus.Cancelled);

    public static bool IsTerminal(string status) => status is Completed or Failed or Cancelled;
}
