using System.ComponentModel.DataAnnotations;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace ApprovalStudio.Web.Infrastructure.Persistence;

public enum DatabaseProvider
{
    Sqlite,
    Postgres,
    SqlServer,
}

/// <summary>The <c>Database</c> section.</summary>
public sealed class DatabaseOptions
{
    public const string SectionName = "Database";

    [Required]
    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;
}

public static class PersistenceExtensions
{
    public static IHostApplicationBuilder AddPersistence(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        var provider = ReadProvider(builder.Configuration);
        var connectionString = ConnectionString(builder.Configuration, builder.Environment.ContentRootPath, provider);
        switch (provider)
        {
            case DatabaseProvider.Sqlite:
                builder.Services.AddSingleton<SqliteWriteGate>();
                builder.Services.AddSingleton(_ => new SqliteReads(connectionString));
                builder.Services.AddAppDbContext<SqliteAppDbContext>((sp, o) =>
                {
                    o.UseSqlite(connectionString);
                    sp.GetRequiredService<SqliteWriteGate>().AddTo(o);
                });
                break;
            case DatabaseProvider.Postgres:
                var postgres = PostgresConnection(connectionString);
                builder.Services.AddAppDbContext<PostgresAppDbContext>((_, o) => o.UseNpgsql(postgres));
                break;
            case DatabaseProvider.SqlServer:
                builder.Services.AddAppDbContext<SqlServerAppDbContext>((_, o) => o.UseSqlServer(connectionString));
                break;
        }

        builder.Services.AddSingleton(typeof(PerCall<>));
        builder.Services.AddSingleton<GroupCommit>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<GroupCommit>());

        builder.Services.AddHealthChecks().AddDbContextCheck<AppDbContext>("database", tags: ["ready"]);
        return builder;
    }

    /// <summary>The statements a server answers most often are prepared once per connection unless the connection string says otherwise.</summary>
    public const int PostgresAutoPrepared = 64;

    /// <summary>
    /// The PostgreSQL connection string with Npgsql's automatic preparation on (<c>Max Auto Prepare</c>, unless it sets its
    /// own, 0 included): a statement used a few times on a connection is prepared there, and the server stops parsing and
    /// planning the status read and the answer's statements on every request (measured: resume p50 8–9 → 5–7 ms, status
    /// 1.2–1.6 → 0.8–1.1 ms, one at a time). Behind a pooler that cannot keep prepared statements (PgBouncer in transaction
    /// mode before 1.21), set <c>Max Auto Prepare=0</c>.
    /// </summary>
    public static string PostgresConnection(string connectionString)
    {
        // Npgsql's own builder says every keyword it knows is "contained": ask a plain one what the string sets.
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        if (given.ContainsKey("Max Auto Prepare") || given.ContainsKey("MaxAutoPrepare"))
        {
            return connectionString;
        }

        return new Npgsql.NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = PostgresAutoPrepared }.ConnectionString;
    }

    /// <summary>Applies the provider's migrations; on SQLite also switches the file to WAL.</summary>
    public static async Task MigrateDatabaseAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        if (db.Database.IsSqlite())
        {
            // WAL lets readers (status polls, the inbox) proceed while the worker writes.
            await db.Database.OpenConnectionAsync(cancellationToken);
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
            await db.Database.CloseConnectionAsync();
        }

        await db.Database.MigrateAsync(cancellationToken);
    }

    /// <summary>
    /// The provider's context, scoped (and as <see cref="AppDbContext"/>), and an
    /// <c>IDbContextFactory&lt;AppDbContext&gt;</c> for code that outlives a scope, such as a Blazor circuit or the group
    /// commit. Both come from one pool of contexts: a request or a step takes a context that is ready (its EF services
    /// made) and hands it back reset when it is done — measured: making them took 5–10 % of the app's CPU per request.
    /// </summary>
    private static void AddAppDbContext<TContext>(this IServiceCollection services, Action<IServiceProvider, DbContextOptionsBuilder> configure)
        where TContext : AppDbContext
    {
        // One pool behind both. The scoped context is EF's scoped lease (AddDbContextPool), which the scope hands back once
        // however often the context itself is disposed: it is disposed twice, as TContext and as AppDbContext, and a
        // factory's lease given back twice could reach whoever leased the context in between.
        services.AddDbContextPool<TContext>(configure);
        services.AddPooledDbContextFactory<TContext>(configure);
        services.AddScoped<AppDbContext>(sp => sp.GetRequiredService<TContext>());
        services.AddSingleton<IDbContextFactory<AppDbContext>>(sp => new AppDbContextFactory<TContext>(sp.GetRequiredService<IDbContextFactory<TContext>>()));
    }

    public static DatabaseProvider ReadProvider(IConfiguration configuration)
    {
        var text = configuration[$"{DatabaseOptions.SectionName}:{nameof(DatabaseOptions.Provider)}"];
        if (string.IsNullOrWhiteSpace(text))
        {
            return DatabaseProvider.Sqlite;
        }

        return Enum.TryParse<DatabaseProvider>(text, ignoreCase: true, out var provider)
            ? provider
            : throw new InvalidOperationException(
                $"Database:Provider '{text}' is not a provider; use Sqlite (default), Postgres or SqlServer.");
    }

    private static string ConnectionString(IConfiguration configuration, string contentRoot, DatabaseProvider provider)
    {
        var configured = configuration.GetConnectionString("Default");
        if (!string.IsNullOrWhiteSpace(configured))
        {
            if (provider == DatabaseProvider.Sqlite)
            {
                EnsureSqliteFolder(configured);
            }

            return configured;
        }

        if (provider != DatabaseProvider.Sqlite)
        {
            throw new InvalidOperationException($"ConnectionStrings:Default is required when Database:Provider is {provider}.");
        }

        var folder = AppOptions.ResolveDataDirectory(configuration, contentRoot);
        return new SqliteConnectionStringBuilder { DataSource = Path.Combine(folder, "approval-studio.db") }.ToString();
    }

    private static void EnsureSqliteFolder(string connectionString)
    {
        var source = new SqliteConnectionStringBuilder(connectionString).DataSource;
        var folder = Path.GetDirectoryName(Path.GetFullPath(source));
        if (!string.IsNullOrEmpty(folder) && source != ":memory:")
        {
            Directory.CreateDirectory(folder);
        }
    }
}

internal sealed class AppDbContextFactory<TContext>(IDbContextFactory<TContext> pool) : IDbContextFactory<AppDbContext>
    where TContext : AppDbContext
{
    public AppDbContext CreateDbContext() => pool.CreateDbContext();
}

// Design-time factories, used only by `dotnet ef migrations add` (one migration set per provider).
internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteAppDbContext>
{
    public SqliteAppDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteAppDbContext>().UseSqlite("Data Source=design.db").Options);
}

internal sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresAppDbContext>
{
    public PostgresAppDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresAppDbContext>().UseNpgsql("Host=localhost;Database=design").Options);
}

internal sealed class SqlServerDesignTimeFactory : IDesignTimeDbContextFactory<SqlServerAppDbContext>
{
    public SqlServerAppDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqlServerAppDbContext>().UseSqlServer("Server=localhost;Database=design;TrustServerCertificate=true").Options);
}
