namespace ApprovalStudio.Web.Infrastructure.Persistence;

/// <summary>Text a person typed, matched literally inside a LIKE pattern: its wildcards and the escape character escaped.</summary>
public static class Like
{
    public const string EscapeCharacter = "\\";

    /// <summary>Escapes <c>\</c>, <c>%</c>, <c>_</c> and (SQL Server's) <c>[</c> with <see cref="EscapeCharacter"/>.</summary>
    public static string Escape(string text) =>
        text.Replace("\\", "\\\\", StringComparison.Ordinal)
            .Replace("%", "\\%", StringComparison.Ordinal)
            .Replace("_", "\\_", StringComparison.Ordinal)
            .Replace("[", "\\[", StringComparison.Ordinal);
}
