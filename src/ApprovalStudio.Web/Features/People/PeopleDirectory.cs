using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Features.People;

public sealed record PersonInput(string? Name, string? Email, IReadOnlyList<string>? Groups, string? SlackUserId, string? Password, IReadOnlyList<string>? Roles);

public sealed record PersonView(string UserId, string Name, string? Email, IReadOnlyList<string> Groups, IReadOnlyList<string> Roles, string? SlackUserId);

/// <summary>The people of a tenant (CONTRACT §6): who they are, their groups, and their local sign-in.</summary>
public sealed class PeopleDirectory(UserManager<AppUser> users, AppDbContext db)
{
    public Task<AppUser?> FindAsync(string tenant, string userId, CancellationToken cancellationToken) =>
        db.Users.SingleOrDefaultAsync(u => u.TenantId == tenant && u.UserId == userId, cancellationToken);

    /// <returns>The person and whether it was created, or the problems by field.</returns>
    public async Task<(PersonView? Person, bool Created, Dictionary<string, string[]> Errors)> UpsertAsync(
        string tenant, string userId, PersonInput input, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(input.Name))
        {
            errors["name"] = ["name is required."];
        }

        if (input.Groups?.Any(string.IsNullOrWhiteSpace) == true || input.Groups?.Any(g => g.Contains(',', StringComparison.Ordinal)) == true)
        {
            errors["groups"] = ["groups are non-empty names without commas."];
        }

        if (input.Roles?.Any(r => r != Actor.AdminRole) == true)
        {
            errors["roles"] = ["The only role is \"admin\"."];
        }

        if (errors.Count > 0)
        {
            return (null, false, errors);
        }

        var user = await FindAsync(tenant, userId, cancellationToken);
        var created = user is null;
        user ??= new AppUser { TenantId = tenant, UserId = userId, DisplayName = input.Name!, UserName = AppUser.LoginName(tenant, userId) };
        user.DisplayName = input.Name!;
        user.Email = input.Email;
        user.Groups = string.Join(',', input.Groups ?? []);
        user.Roles = string.Join(',', input.Roles ?? []);
        user.SlackUserId = input.SlackUserId;

        if (input.Password is not null)
        {
            foreach (var validator in users.PasswordValidators)
            {
                var check = await validator.ValidateAsync(users, user, input.Password);
                if (!check.Succeeded)
                {
                    return (null, false, new() { ["password"] = [.. check.Errors.Select(e => e.Description)] });
                }
            }
        }

        var result = created ? await users.CreateAsync(user) : await users.UpdateAsync(user);
        if (result.Succeeded && input.Password is not null)
        {
            if (await users.HasPasswordAsync(user))
            {
                await users.RemovePasswordAsync(user);
            }

            result = await users.AddPasswordAsync(user, input.Password);
        }

        return result.Succeeded
            ? (View(user), created, errors)
            : (null, false, new() { ["$"] = [.. result.Errors.Select(e => e.Description)] });
    }

    /// <summary>
    /// The people a task's assignees name, as the directory knows them, each once (by user id): the named users, and the
    /// members of the named groups. Names the directory does not know are left out.
    /// </summary>
    public static async Task<List<AppUser>> AssignedAsync(
        AppDbContext db, string tenantId, IReadOnlyCollection<string> users, IReadOnlyCollection<string> groups, CancellationToken cancellationToken)
    {
        var people = users.Count == 0 ? [] : await db.Users.AsNoTracking()
            .Where(u => u.TenantId == tenantId && users.Contains(u.UserId)).ToListAsync(cancellationToken);
        foreach (var group in groups)
        {
            // Groups is a comma-separated column: narrow in SQL, then match whole names.
            var members = await db.Users.AsNoTracking().Where(u => u.TenantId == tenantId && u.Groups.Contains(group)).ToListAsync(cancellationToken);
            people.AddRange(members.Where(m => m.GroupList.Contains(group)));
        }

        return [.. people.DistinctBy(p => p.UserId).OrderBy(p => p.UserId, StringComparer.Ordinal)];
    }

    /// <summary>A person of the directory as the actor answering their own tasks (by user and by group, never as an admin).</summary>
    public static Actor AsAssignee(string tenant, string userId, AppUser? person) =>
        new(tenant, userId, person?.DisplayName ?? userId, new HashSet<string>(person?.GroupList ?? []), new HashSet<string>());

    public static PersonView View(AppUser user) =>
        new(user.UserId, user.DisplayName, user.Email, user.GroupList, user.RoleList, user.SlackUserId);
}
