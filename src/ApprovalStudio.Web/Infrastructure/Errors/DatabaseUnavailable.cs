using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace ApprovalStudio.Web.Infrastructure.Errors;

/// <summary>
/// A request that failed because the database could not be reached or was too busy — not because of the request: the
/// provider says the error is transient (PostgreSQL and SQL Server: connection refused or dropped, timeouts, a full
/// pool), or SQLite's file is busy, locked or unwritable. Such a failure is answered 503 with <c>Retry-After</c>, not
/// 500: its transaction did not commit, and the same request succeeds once the database is back.
/// </summary>
public static class DatabaseUnavailable
{
    /// <summary>What <c>Retry-After</c> says.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);

    // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN.
    private static readonly HashSet<int> SqliteUnavailable = [5, 6, 10, 13, 14];

    public static bool Is(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case SqliteException sqlite when SqliteUnavailable.Contains(sqlite.SqliteErrorCode):
                case DbException { IsTransient: true }:
                    return true;
                case AggregateException aggregate when aggregate.InnerExceptions.Any(Is):
                    return true;
            }
        }

        return false;
    }
}
