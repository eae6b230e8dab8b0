using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.People;

/// <summary>
/// Display names from the directory for the user ids pages show (requesters, who answered, who started a run).
/// An id the directory does not know (a token-only caller, a machine) is shown as itself.
/// </summary>
public static class PeopleNames
{
    public static async Task<IReadOnlyDictionary<string, string>> LookupAsync(
        AppDbContext db, string tenantId, IEnumerable<string?> userIds, CancellationToken cancellationToken)
    {
        var ids = userIds.Where(id => !string.IsNullOrEmpty(id)).Select(id => id!).Distinct(StringComparer.Ordinal).ToList();
        if (ids.Count == 0)
        {
            return new Dictionary<string, string>(StringComparer.Ordinal);
        }

        var names = await db.Users.AsNoTracking()
            .Where(u => u.TenantId == tenantId && ids.Contains(u.UserId))
            .Select(u => new { u.UserId, u.DisplayName })
            .ToListAsync(cancellationToken);
        return names.ToDictionary(n => n.UserId, n => n.DisplayName, StringComparer.Ordinal);
    }

    /// <summary>The name for <paramref name="userId"/>, or the id itself.</summary>
    public static string Name(this IReadOnlyDictionary<string, string> names, string? userId) =>
        userId is null ? string.Empty : names.TryGetValue(userId, out var name) && !string.IsNullOrWhiteSpace(name) ? name : userId;
}
