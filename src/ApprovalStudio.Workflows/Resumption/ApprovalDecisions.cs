namespace ApprovalStudio.Workflows.Resumption;

/// <summary>The two answers to an approval node: the <c>decision</c> of its body and output (CONTRACT §4.1).</summary>
public static class ApprovalDecisions
{
    public const string Approved = "Approved";
    public const string Rejected = "Rejected";

    /// <summary>Send it back: a comment says what to change, and the run follows the node's edge for it (issue 15).</summary>
    public const string RequestChanges = "RequestChanges";
}
