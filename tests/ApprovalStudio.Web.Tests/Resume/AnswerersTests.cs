using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Hub;
using ApprovalStudio.Web.Features.Inbox;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Tests.Resume;

/// <summary>
/// Who may answer a task is one rule with four uses — the pipeline and pages (in memory), the task list and inbox
/// (a query on the real database), the inbox's live events, and the hub's inbox groups — and all four agree.
/// </summary>
public sealed class AnswerersTests
{
    private static TaskRecord Task(string resId, string tenant, params (string Kind, string Value)[] assignees) => new()
    {
        ResId = resId, ExecutionId = "run-" + resId, TenantId = tenant, WorkflowKey = "wf", NodeId = "ask", StackJson = "[]", StackKey = "",
        Kind = "Approval", Title = resId, Status = TaskStatuses.Pending, CreatedAt = DateTime.UtcNow,
        Assignees = [.. assignees.Select(a => new TaskAssigneeRecord { ResId = resId, Kind = a.Kind, Value = a.Value })],
    };

    private static Actor Person(string user, string tenant = "acme", string[]? groups = null, bool admin = false) =>
        new(tenant, user, user, new HashSet<string>(groups ?? [], StringComparer.Ordinal), new HashSet<string>(admin ? [Actor.AdminRole] : [], StringComparer.Ordinal));

    private static readonly TaskRecord[] Tasks =
    [
        Task("bob-or-ops", "acme", (AssigneeKinds.User, "bob"), (AssigneeKinds.Group, "ops")),
        Task("legal-only", "acme", (AssigneeKinds.Group, "legal")),
        Task("nobody", "acme"),
        Task("globex-bob", "globex", (AssigneeKinds.User, "bob"), (AssigneeKinds.Group, "ops")),
    ];

    /// <summary>(actor, task, may answer) — every way of being, or almost being, an answerer.</summary>
    public static readonly (Actor Actor, string ResId, bool May)[] Cases =
    [
        (Person("bob"), "bob-or-ops", true),                               // the assignee by name
        (Person("ann", groups: ["ops"]), "bob-or-ops", true),              // by group
        (Person("ann", groups: ["ops", "legal"]), "legal-only", true),     // one group of several
        (Person("ann", groups: ["ops"]), "legal-only", false),
        (Person("BOB"), "bob-or-ops", false),                              // ids are exact
        (Person("carl", groups: ["OPS"]), "bob-or-ops", false),            // and so are groups
        (Person("ops"), "bob-or-ops", false),                              // a user named like a group is not the group
        (Person("carl", groups: ["bob"]), "bob-or-ops", false),            // nor a group named like a user
        (Person("root", admin: true), "bob-or-ops", true),                 // the tenant's admins
        (Person("root", admin: true), "nobody", true),
        (Person("bob"), "nobody", false),
        (Person("root", tenant: "globex", admin: true), "bob-or-ops", false), // another tenant's admin
        (Person("bob", tenant: "globex", groups: ["ops"]), "bob-or-ops", false), // the same names in another tenant
        (Person("bob", tenant: "globex"), "globex-bob", true),
        (Person("bob"), "globex-bob", false),
    ];

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task The_pipeline_the_task_list_the_inbox_events_and_the_hub_agree_on_who_may_answer(Provider provider)
    {
        await using var host = await AppHost.StartAsync(provider);
        await using (var db = host.Database.OpenContext())
        {
            db.Tasks.AddRange(Tasks);
            await db.SaveChangesAsync();
        }

        await using var read = host.Database.OpenContext();
        var failures = new List<string>();
        foreach (var (actor, resId, may) in Cases)
        {
            var task = await read.Tasks.AsNoTracking().Include(t => t.Assignees).SingleAsync(t => t.ResId == resId);
            var uses = new Dictionary<string, bool>
            {
                ["in memory (pipeline, task page, deep links)"] = Answerers.May(actor, task),
                ["query (task list, inbox)"] = await read.Tasks.AsNoTracking().AnswerableBy(actor).AnyAsync(t => t.ResId == resId),
                ["inbox event"] = Answerers.May(actor, TaskChange.From(task, created: true)),
                ["hub inbox groups"] = HubGroups.InboxesFor(task).Intersect(HubGroups.InboxOf(actor)).Any(),
            };
            failures.AddRange(uses.Where(u => u.Value != may)
                .Select(u => $"{actor.TenantId}/{actor.UserId} [{string.Join(",", actor.Groups)}]{(actor.IsAdmin ? " admin" : "")} on {resId}: {u.Key} says {u.Value}, the rule says {may}"));
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
