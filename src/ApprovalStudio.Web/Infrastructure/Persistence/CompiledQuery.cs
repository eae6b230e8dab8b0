using System.Collections.Concurrent;

namespace ApprovalStudio.Web.Infrastructure.Persistence;

/// <summary>
/// A query compiled once per provider (<c>EF.CompileAsyncQuery</c>), for the hot paths that would otherwise translate
/// the same LINQ on every request. EF binds a compiled query to the provider it first runs on, so each context type
/// gets its own: one in the app, but the tests run SQLite and PostgreSQL hosts in one process (seen: with one compiled
/// status read, runs on PostgreSQL were never found once a SQLite host had used it).
/// </summary>
public sealed class CompiledQuery<TQuery>(Func<TQuery> compile)
    where TQuery : Delegate
{
    private readonly ConcurrentDictionary<Type, TQuery> _byContext = new();

    /// <summary>The query compiled for <paramref name="db"/>'s provider.</summary>
    public TQuery For(AppDbContext db) => _byContext.GetOrAdd(db.GetType(), static (_, compile) => compile(), compile);
}
