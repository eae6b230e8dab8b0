namespace ApprovalStudio.Web.Tests.Api;

/// <summary>Workflow definitions the API tests run.</summary>
public static class Flows
{
    public const string Review = """
        {"key":"review-flow","name":"Review","start":"ask",
         "nodes":[{"id":"ask","type":"review","title":"Look at {{input.doc}}","assignees":{"groups":["ops"],"users":["bob"]},"expiresAfter":"PT1H"},
                  {"id":"after","type":"set","values":{"seen":"ask.acknowledged","by":"ask.actor"}}],
         "edges":[{"from":"ask","to":"after"}]}
        """;

    public const string Approval = """
        {"key":"approval-flow","name":"Approval","start":"manager",
         "nodes":[{"id":"manager","type":"approval","title":"Approve {{input.amount}}","assignees":{"users":["mia"]},"requireCommentOnReject":true},
                  {"id":"paid","type":"set","values":{"result":"'paid'"}},
                  {"id":"refused","type":"set","values":{"result":"'refused: ' + manager.comment"}}],
         "edges":[{"from":"manager","to":"paid","when":"manager.decision == 'Approved'"},
                  {"from":"manager","to":"refused","when":"manager.decision == 'Rejected'"}]}
        """;

    public const string Form = """
        {"key":"form-flow","name":"Onboarding","start":"details",
         "nodes":[{"id":"details","type":"form","title":"Details","assignees":{"groups":["hr"]},
                   "schema":{"type":"object","required":["employeeName","startDate","salary"],"properties":{
                     "employeeName":{"type":"string","title":"Employee name","minLength":2},
                     "startDate":{"type":"string","format":"date","title":"Start date"},
                     "salary":{"type":"integer","minimum":0},
                     "notes":{"type":"string"}}}},
                  {"id":"summary","type":"set","values":{"line":"details.employeeName + ' starts ' + details.startDate"}}],
         "edges":[{"from":"details","to":"summary"}]}
        """;

    public static string Expiring(string onExpire) => $$$"""
        {"key":"expiring-{{{onExpire}}}","name":"Expiring","start":"ask",
         "nodes":[{"id":"ask","type":"review","title":"Quick!","assignees":{"users":["bob"]},"expiresAfter":"PT1S","onExpire":"{{{onExpire}}}"},
                  {"id":"late","type":"set","values":{"expired":"ask.expired"}}],
         "edges":[{"from":"ask","to":"late"}]}
        """;
}
