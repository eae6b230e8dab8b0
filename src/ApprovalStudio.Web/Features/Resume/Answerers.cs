using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;

namespace ApprovalStudio.Web.Features.Resume;

/// <summary>Someone a task is addressed to: one person, everyone in a group, or the tenant's admins.</summary>
public readonly record struct Audience(string Kind, string Value)
{
    public const string UserKind = "user";
    public const string GroupKind = "group";
    public const string AdminsKind = "admins";

    public static Audience User(string userId) => new(UserKind, userId);

    public static Audience Group(string group) => new(GroupKind, group);

    public static readonly Audience Admins = new(AdminsKind, string.Empty);
}

/// <summary>
/// Who may answer a task — the one rule, in the forms its users need: an actor of the task's tenant who is an admin,
/// or an assignee by user id or by group. In memory (the pipeline, the task page, deep links, inbox events), as a query
/// (the task list, the inbox's pages and counts) and as audiences (the hub's inbox groups). <c>AnswerersTests</c> holds
/// the forms to the same cases.
/// </summary>
public static class Answerers
{
    /// <summary>Whom a task reaches: each assignee, and the tenant's admins.</summary>
    public static IReadOnlyList<Audience> Of(IEnumerable<TaskAssigneeRecord> assignees) =>
    [
        .. assignees.Select(a => a.Kind == AssigneeKinds.User ? Audience.User(a.Value) : Audience.Group(a.Value)),
        Audience.Admins,
    ];

    /// <summary>The audiences an actor is part of, within their tenant.</summary>
    public static IReadOnlyList<Audience> Of(Actor actor) =>
    [
        Audience.User(actor.UserId),
        .. actor.Groups.Select(Audience.Group),
        .. actor.IsAdmin ? [Audience.Admins] : Array.Empty<Audience>(),
    ];

    /// <summary>The rule in memory, over a task's audiences.</summary>
    public static bool May(Actor actor, string tenantId, IEnumerable<Audience> audiences)
    {
        if (actor.TenantId != tenantId)
        {
            return false;
        }

        var mine = Of(actor);
        return audiences.Any(mine.Contains);
    }

    /// <summary>The rule in memory, over a task change heard from the runtime (inbox pages, the hub's counts).</summary>
    public static bool May(Actor actor, TaskChange change) =>
        May(actor, change.TenantId, [.. change.Users.Select(Audience.User), .. change.Groups.Select(Audience.Group), Audience.Admins]);

    /// <summary>The rule in memory, over a task read with its assignees.</summary>
    public static bool May(Actor actor, TaskRecord task) => May(actor, task.TenantId, Of(task.Assignees));

    /// <summary>The rule as a query: the tasks of <paramref name="tasks"/> the actor may answer.</summary>
    public static IQueryable<TaskRecord> AnswerableBy(this IQueryable<TaskRecord> tasks, Actor actor)
    {
        var inTenant = tasks.Where(t => t.TenantId == actor.TenantId);
        if (actor.IsAdmin)
        {
            return inTenant;
        }

        var groups = actor.Groups.ToArray();
        return inTenant.Where(t => t.Assignees.Any(a =>
            (a.Kind == AssigneeKinds.User && a.Value == actor.UserId) || (a.Kind == AssigneeKinds.Group && groups.Contains(a.Value))));
    }
}
