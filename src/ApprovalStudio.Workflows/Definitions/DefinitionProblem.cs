namespace ApprovalStudio.Workflows.Definitions;

/// <summary>One thing wrong with a definition: where (a JSON path such as <c>nodes[2].schema</c>) and what.</summary>
public sealed record DefinitionProblem(string Path, string Message);

public sealed class InvalidDefinitionException(IReadOnlyList<DefinitionProblem> problems)
    : Exception("The workflow definition is invalid: " + string.Join("; ", problems.Select(p => $"{p.Path}: {p.Message}")))
{
    public IReadOnlyList<DefinitionProblem> Problems { get; } = problems;
}
