using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace ApprovalStudio.Testing;

public enum Provider
{
    Sqlite,
    Postgres,
}

/// <summary>
/// A fresh, real database for one test: a SQLite file in a temp folder, or a new database on the
/// PostgreSQL server that the test command starts (its connection string in
/// <see cref="PostgresVariable"/>). There is no in-memory stand-in.
/// </summary>
public sealed class TestDatabase : IAsyncDisposable
{
    public const string PostgresVariable = "APPROVALSTUDIO_TEST_POSTGRES";

    private TestDatabase(Provider provider, string connectionString, string folder)
    {
        Provider = provider;
        ConnectionString = connectionString;
        Folder = folder;
    }

    public Provider Provider { get; }
    public string ConnectionString { get; }

    /// <summary>A temp folder of this test's own (data directory, logs).</summary>
    public string Folder { get; }

    public static TestDatabase Create(Provider provider)
    {
        var folder = Directory.CreateTempSubdirectory("approval-studio-test-").FullName;
        if (provider == Provider.Sqlite)
        {
            return new TestDatabase(provider, $"Data Source={Path.Combine(folder, "test.db")}", folder);
        }

        var server = Environment.GetEnvironmentVariable(PostgresVariable);
        if (string.IsNullOrWhiteSpace(server))
        {
            throw new InvalidOperationException(
                $"{PostgresVariable} is not set. Run the tests with ./build/test.sh, which starts PostgreSQL and sets it.");
        }

        var builder = new NpgsqlConnectionStringBuilder(server) { Database = "as_" + Guid.NewGuid().ToString("N") };
        return new TestDatabase(provider, builder.ConnectionString, folder);
    }

    public Dictionary<string, string?> Settings() => new()
    {
        ["Database:Provider"] = Provider.ToString(),
        ["ConnectionStrings:Default"] = ConnectionString,
        ["App:DataDirectory"] = Path.Combine(Folder, "data"),
    };

    /// <summary>A context of the test's own, to look at what the app wrote.</summary>
    public AppDbContext OpenContext() => Provider switch
    {
        Provider.Sqlite => new SqliteAppDbContext(new DbContextOptionsBuilder<SqliteAppDbContext>().UseSqlite(ConnectionString).Options),
        _ => new PostgresAppDbContext(new DbContextOptionsBuilder<PostgresAppDbContext>().UseNpgsql(ConnectionString).Options),
    };

    public async ValueTask DisposeAsync()
    {
        if (Provider == Provider.Postgres)
        {
            NpgsqlConnection.ClearAllPools();
            var admin = new NpgsqlConnectionStringBuilder(ConnectionString) { Database = "postgres" };
            var name = new NpgsqlConnectionStringBuilder(ConnectionString).Database;
            await using var connection = new NpgsqlConnection(admin.ConnectionString);
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }
        else
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        }

        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
