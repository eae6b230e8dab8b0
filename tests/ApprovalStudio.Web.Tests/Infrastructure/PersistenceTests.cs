using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Tests.Infrastructure;

public sealed class PersistenceTests
{
    [Fact]
    public void Every_provider_has_migrations_that_match_the_model()
    {
        using var sqlite = new SqliteAppDbContext(new DbContextOptionsBuilder<SqliteAppDbContext>().UseSqlite("Data Source=unused.db").Options);
        using var postgres = new PostgresAppDbContext(new DbContextOptionsBuilder<PostgresAppDbContext>().UseNpgsql("Host=unused").Options);
        using var sqlServer = new SqlServerAppDbContext(new DbContextOptionsBuilder<SqlServerAppDbContext>().UseSqlServer("Server=unused").Options);

        foreach (AppDbContext context in new AppDbContext[] { sqlite, postgres, sqlServer })
        {
            Assert.NotEmpty(context.Database.GetMigrations());
            Assert.False(context.Database.HasPendingModelChanges(), $"{context.GetType().Name}: run `dotnet ef migrations add` for this provider.");
        }

        Assert.Contains("CREATE TABLE [Tasks]", sqlServer.Database.GenerateCreateScript());
    }

    [Fact]
    public async Task The_default_sqlite_database_runs_in_wal_mode()
    {
        await using var host = await AppHost.StartAsync();
        await using var db = host.Database.OpenContext();
        await db.Database.OpenConnectionAsync();
        await using var command = db.Database.GetDbConnection().CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";

        Assert.Equal("wal", (string?)await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task With_entra_configured_the_app_starts_offline_and_local_tokens_still_work()
    {
        await using var host = await AppHost.StartAsync(settings: new Dictionary<string, string?>
        {
            ["AzureAd:Instance"] = "https://login.microsoftonline.com/",
            ["AzureAd:TenantId"] = "11111111-1111-1111-1111-111111111111",
            ["AzureAd:ClientId"] = "22222222-2222-2222-2222-222222222222",
        });

        using var response = await host.Admin().PostJsonAsync("/api/workflows", Api.Flows.Review);

        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
    }
}
