using ApprovalStudio.Web.Infrastructure.Persistence;

namespace ApprovalStudio.Web.Features.Executions;

/// <summary>
/// Joins the unit of work that creates or settles tasks (a worker step, an answer, an expiry, a cancellation): what
/// it adds to <c>db</c> commits with the tasks or not at all. Notifications implement it (their outbox); the runtime
/// and the resume pipeline call it without knowing who listens, so they do not depend on the features above them.
/// </summary>
public interface ITaskOutbox
{
    /// <summary>A step created <paramref name="created"/> (read with their assignees).</summary>
    Task CreatedAsync(AppDbContext db, IReadOnlyList<TaskRecord> created, DateTime now, CancellationToken cancellationToken);

    /// <summary>
    /// The tasks left the inbox (answered, expired, cancelled). <paramref name="answeredOn"/>: the channel's own message
    /// the answer was given on (Slack's <c>channel/ts</c>), which that channel updates itself.
    /// </summary>
    Task SettledAsync(AppDbContext db, IReadOnlyCollection<string> resIds, DateTime now, CancellationToken cancellationToken, string? answeredOn = null);

    /// <summary>
    /// Someone voted on the approval <paramref name="resId"/> and it is still open (issue 15): the messages about it show the
    /// new tally. <paramref name="answeredOn"/>: the message the vote was given on, which its channel updates itself.
    /// </summary>
    Task TallyChangedAsync(AppDbContext db, string resId, DateTime now, CancellationToken cancellationToken, string? answeredOn = null);
}
