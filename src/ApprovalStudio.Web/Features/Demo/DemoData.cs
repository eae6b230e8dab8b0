using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.People;
using ApprovalStudio.Web.Features.Workflows;
using ApprovalStudio.Web.Infrastructure;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Workflows.Definitions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace ApprovalStudio.Web.Features.Demo;

/// <summary>
/// On an empty database (and <c>App:SeedDemoData</c>, on by default) the tenant <c>demo</c> gets three
/// workflows and a run of each, so a first start has something to look at and answer.
/// </summary>
public static class DemoData
{
    public const string Tenant = "demo";

    public static readonly string[] Definitions =
    [
        """
        {"key":"expense-approval","name":"Expense approval","start":"manager",
         "nodes":[
          {"id":"manager","type":"approval","title":"Approve {{input.employee}}'s expense of {{input.amount}} {{input.currency}}",
           "assignees":{"groups":["managers"]},"expiresAfter":"P3D","requireCommentOnReject":true},
          {"id":"finance","type":"approval","title":"Finance check: {{input.amount}} {{input.currency}} for {{input.employee}}",
           "assignees":{"groups":["finance"]},"expiresAfter":"P2D"},
          {"id":"approved","type":"set","values":{"result":"'approved'"}},
          {"id":"rejected","type":"set","values":{"result":"'rejected'"}}],
         "edges":[
          {"from":"manager","to":"finance","when":"manager.decision == 'Approved' && input.amount > 1000"},
          {"from":"manager","to":"approved","when":"manager.decision == 'Approved' && input.amount <= 1000"},
          {"from":"manager","to":"rejected","when":"manager.decision == 'Rejected'"},
          {"from":"finance","to":"approved","when":"finance.decision == 'Approved'"},
          {"from":"finance","to":"rejected","when":"finance.decision == 'Rejected'"}]}
        """,
        """
        {"key":"employee-onboarding","name":"Employee onboarding","start":"details",
         "nodes":[
          {"id":"details","type":"form","title":"Onboarding details for {{input.employeeName}}","assignees":{"groups":["hr"]},"expiresAfter":"P5D",
           "schema":{"type":"object","required":["department","startDate"],"properties":{
             "department":{"type":"string","title":"Department","enum":["Engineering","Sales","Finance","Operations"]},
             "startDate":{"type":"string","format":"date","title":"Start date"},
             "salary":{"type":"integer","title":"Salary","minimum":0},
             "remote":{"type":"boolean","title":"Remote"},
             "notes":{"type":"string","title":"Notes","maxLength":2000}}}},
          {"id":"welcome","type":"review","title":"Welcome {{input.employeeName}} to {{details.department}}","assignees":{"users":["ann"]}}],
         "edges":[{"from":"details","to":"welcome"}]}
        """,
        """
        {"key":"contract-review","name":"Contract review","start":"legal",
         "nodes":[{"id":"legal","type":"review","title":"Review contract with {{input.counterparty}}","assignees":{"groups":["legal"]},"expiresAfter":"P7D"}],
         "edges":[]}
        """,
    ];

    /// <summary>The password of every demo account, shown on the sign-in page in demo mode.</summary>
    public const string Password = "Approve-2026";

    public static readonly (string Tenant, string User, string Name, string Groups, string Roles)[] People =
    [
        (Tenant, "ann", "Ann Approver", "ops,managers,legal", ""),
        (Tenant, "mia", "Mia Manager", "managers", ""),
        (Tenant, "finn", "Finn Finance", "finance", ""),
        (Tenant, "hana", "Hana HR", "hr", ""),
        (Tenant, "admin", "Ada Admin", "", Actor.AdminRole),
        ("globex", "gus", "Gus Globex", "ops,managers,legal,hr,finance", ""),
    ];

    private static readonly (string Key, string Input)[] Runs =
    [
        ("expense-approval", """{"employee":"Jane Doe","amount":1840,"currency":"EUR","purpose":"Conference travel"}"""),
        ("employee-onboarding", """{"employeeName":"Sam Lee"}"""),
        ("contract-review", """{"counterparty":"Acme GmbH"}"""),
    ];

    public static async Task SeedDemoDataAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        if (!services.GetRequiredService<IOptions<AppOptions>>().Value.SeedDemoData)
        {
            return;
        }

        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        if (!await db.Users.AnyAsync(cancellationToken))
        {
            var people = scope.ServiceProvider.GetRequiredService<PeopleDirectory>();
            foreach (var (tenant, user, name, groups, roles) in People)
            {
                await people.UpsertAsync(tenant, user, new PersonInput(name, $"{user}@{tenant}.example", groups.Split(',', StringSplitOptions.RemoveEmptyEntries),
                    null, Password, roles.Split(',', StringSplitOptions.RemoveEmptyEntries)), cancellationToken);
            }
        }

        if (await db.Workflows.AnyAsync(cancellationToken))
        {
            return;
        }

        var catalog = scope.ServiceProvider.GetRequiredService<WorkflowCatalog>();
        var admin = new Actor(Tenant, "admin", "Demo admin", new HashSet<string>(), new HashSet<string> { Actor.AdminRole });
        foreach (var json in Definitions)
        {
            var node = (JsonObject)JsonNode.Parse(json)!;
            await catalog.CreateAsync(admin, DefinitionParser.Parse(node).Definition!, node, cancellationToken);
        }

        var now = scope.ServiceProvider.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        foreach (var (key, input) in Runs)
        {
            var id = Guid.CreateVersion7().ToString("N");
            db.Executions.Add(new ExecutionRecord
            {
                Id = id, TenantId = Tenant, WorkflowKey = key, WorkflowVersion = 1, Status = ExecutionStatuses.Running,
                InputJson = input, CreatedBy = admin.UserId, CreatedAt = now, UpdatedAt = now,
            });
            db.Queue.Add(new QueueItem { ExecutionId = id, Kind = QueueKinds.Start, Status = QueueStatuses.Pending, AvailableAt = now, CreatedAt = now });
        }

        await db.SaveChangesAsync(cancellationToken);
    }
}
