using ApprovalStudio.Web.Infrastructure.Auth;

namespace ApprovalStudio.Web.Features.Resume;

/// <summary>
/// Why a caller may answer a task — what the channel established, not a switch that turns checks off. The pipeline
/// decides per grant (<see cref="ResumePipeline"/>), and the audit record names it (<see cref="Name"/>). ADR 006.
/// </summary>
public abstract record AnswerGrant(string Name)
{
    public const string AssigneeName = "assignee";
    public const string WebhookSecretName = "webhook-secret";
    public const string DeepLinkName = "deep-link";
    public const string AgentRuntimeName = "agent-runtime";

    /// <summary>The tenant the grant is for: a task of another tenant is refused, whatever the grant.</summary>
    public abstract string TenantId { get; }

    /// <summary>A signed-in person or API key answering as themselves (API, inbox, Slack): they must be one who may answer.</summary>
    public sealed record Assignee(Actor Actor) : AnswerGrant(AssigneeName)
    {
        public override string TenantId => Actor.TenantId;
    }

    /// <summary>
    /// The webhook secret of <paramref name="WorkflowKey"/>, checked by the webhook route: it answers that workflow's
    /// wait nodes (which have no assignees), nothing else.
    /// </summary>
    public sealed record WebhookSecret(string Tenant, string WorkflowKey) : AnswerGrant(WebhookSecretName)
    {
        public override string TenantId => Tenant;
    }

    /// <summary>
    /// A signed link for one recipient, checked again when it is used: the recipient must still be an assignee, by the
    /// groups the directory gives them now (a link outlives group changes).
    /// </summary>
    public sealed record DeepLink(string Tenant, string UserId) : AnswerGrant(DeepLinkName)
    {
        public override string TenantId => Tenant;
    }

    /// <summary>An agent runtime (a member of the tenant or an API key) answering a run's tool calls: tool-call tasks only.</summary>
    public sealed record AgentRuntime(Actor Actor) : AnswerGrant(AgentRuntimeName)
    {
        public override string TenantId => Actor.TenantId;
    }
}
