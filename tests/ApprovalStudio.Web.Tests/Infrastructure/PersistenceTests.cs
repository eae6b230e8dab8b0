using System.Net;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

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

    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task Tasks_made_before_the_made_column_take_the_order_of_the_node_runs_they_were_opened_with(Provider provider)
    {
        await using var database = TestDatabase.Create(provider);
        await using (var db = database.OpenContext())
        {
            var migrator = db.GetService<Microsoft.EntityFrameworkCore.Migrations.IMigrator>();
            await migrator.MigrateAsync("AuditGrant");
            const string at = "2026-01-01 00:00:00+00";
            await db.Database.ExecuteSqlRawAsync($$"""
                INSERT INTO "Executions" ("Id", "TenantId", "WorkflowKey", "WorkflowVersion", "Status", "InputJson", "CreatedBy", "CreatedAt", "UpdatedAt", "Revision", "LastSequence")
                VALUES ('run', 'acme', 'batch', 1, 'Suspended', 'null', 'rita', '{{at}}', '{{at}}', 0, 0);
                INSERT INTO "NodeRuns" ("ExecutionId", "NodeId", "NodeType", "StackKey", "StackJson", "Status", "StartedAt") VALUES ('run', 'ask', 'approval', 'x', '[]', 'Completed', '{{at}}');
                INSERT INTO "NodeRuns" ("ExecutionId", "NodeId", "NodeType", "StackKey", "StackJson", "Status", "StartedAt") VALUES ('run', 'ask', 'approval', 'y', '[]', 'Waiting', '{{at}}');
                INSERT INTO "NodeRuns" ("ExecutionId", "NodeId", "NodeType", "StackKey", "StackJson", "Status", "StartedAt") VALUES ('run', 'ask', 'approval', 'x', '[]', 'Waiting', '{{at}}');
                INSERT INTO "Tasks" ("ResId", "ExecutionId", "TenantId", "WorkflowKey", "WorkflowVersion", "NodeId", "StackJson", "StackKey", "Kind", "Title", "Status", "CreatedAt")
                VALUES ('task-x', 'run', 'acme', 'batch', 1, 'ask', '[]', 'x', 'Approval', 'x', 'Pending', '{{at}}'),
                       ('task-y', 'run', 'acme', 'batch', 1, 'ask', '[]', 'y', 'Approval', 'y', 'Pending', '{{at}}'),
                       ('task-z', 'run', 'acme', 'batch', 1, 'other', '[]', '', 'Approval', 'z', 'Pending', '{{at}}');
                """);

            await migrator.MigrateAsync();
        }

        await using (var db = database.OpenContext())
        {
            var runs = await db.NodeRuns.OrderBy(r => r.Id).Select(r => r.Id).ToListAsync();
            var made = await db.Tasks.ToDictionaryAsync(t => t.ResId, t => t.Made);
            Assert.Equal(runs[2], made["task-x"]); // its latest run
            Assert.Equal(runs[1], made["task-y"]);
            Assert.Equal(0, made["task-z"]);
        }
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
    public async Task On_sqlite_a_writer_waits_for_its_turn_without_holding_a_thread_and_goes_when_the_one_before_ends()
    {
        // A 2-second lock timeout: a writer that waited on its thread instead would fail in 2 s, not 30.
        await using var database = TestDatabase.Create(Provider.Sqlite);
        await using var host = await StartWithTwoSecondLockTimeoutAsync(database);
        await using var one = host.Services.CreateAsyncScope();
        await using var three = host.Services.CreateAsyncScope();
        var first = one.ServiceProvider.GetRequiredService<AppDbContext>();
        // The contexts are pooled: the ones made outside a scope (the group commit's, a circuit's) take turns too.
        await using var second = await host.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        var third = three.ServiceProvider.GetRequiredService<AppDbContext>();

        var holding = await first.BeginWriteAsync(CancellationToken.None);
        await first.Database.ExecuteSqlRawAsync("INSERT INTO \"SlackRequests\" (\"SignatureHash\", \"ReceivedAt\") VALUES (x'01', '2026-01-01')");
        var waiting = second.BeginWriteAsync(CancellationToken.None);
        Assert.False(waiting.IsCompleted, "The second writer should be waiting for its turn, not done or failed.");

        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(waiting.IsCompleted, "The second writer should still be waiting: the first has not ended.");
        await holding.CommitAsync();
        await using (var turn = await waiting.WaitAsync(TimeSpan.FromSeconds(10)))
        {
            await second.Database.ExecuteSqlRawAsync("INSERT INTO \"SlackRequests\" (\"SignatureHash\", \"ReceivedAt\") VALUES (x'02', '2026-01-01')");
            // Ended by disposal alone (an exception on the way out): the turn still passes on.
        }

        await holding.DisposeAsync();
        await using var last = await third.BeginWriteAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, await third.SlackRequests.CountAsync());
    }

    [Fact]
    public async Task On_sqlite_writes_made_without_SaveChanges_take_their_turn_too_instead_of_failing_as_locked()
    {
        // ExecuteUpdate/ExecuteDelete bypass SaveChanges: an API key's first use, a revoke, a template reset. With the
        // writer held longer than the 2-second lock timeout, each must wait its turn and then succeed, not fail as locked.
        await using var database = TestDatabase.Create(Provider.Sqlite);
        await using var host = await StartWithTwoSecondLockTimeoutAsync(database);
        var admin = host.Admin();
        async Task<(string Id, string Key)> NewKeyAsync(string name)
        {
            using var created = await admin.PostAsync("/api/api-keys", AppHost.Json($$"""{"name":"{{name}}"}"""));
            var body = System.Text.Json.Nodes.JsonNode.Parse(await created.Content.ReadAsStringAsync())!;
            return ((string)body["id"]!, (string)body["key"]!);
        }

        var (_, used) = await NewKeyAsync("agent");
        var (revokedId, _) = await NewKeyAsync("old agent");
        using (var put = await admin.PutAsync("/api/message-templates/email.subject", AppHost.Json("""{"source":"Please look at {{ task.title }}"}""")))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var byKey = new HttpClient { BaseAddress = admin.BaseAddress };
        byKey.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", used);
        await using var holder = host.Services.CreateAsyncScope();
        var holding = await holder.ServiceProvider.GetRequiredService<AppDbContext>().BeginWriteAsync(CancellationToken.None);
        Task<HttpResponseMessage>[] requests =
        [
            byKey.GetAsync("/api/workflows"),
            admin.DeleteAsync($"/api/api-keys/{revokedId}"),
            admin.DeleteAsync("/api/message-templates/email.subject"),
        ];
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.DoesNotContain(requests, r => r.IsCompleted); // waiting for the writer, not failed
        await holding.CommitAsync();

        var answers = await Task.WhenAll(requests).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.NoContent, HttpStatusCode.NoContent], answers.Select(a => a.StatusCode));
        await using var db = database.OpenContext();
        Assert.NotNull((await db.ApiKeys.SingleAsync(k => k.Name == "agent")).LastUsedAt);
        Assert.NotNull((await db.ApiKeys.SingleAsync(k => k.Id == revokedId)).RevokedAt);
        Assert.False(await db.MessageTemplates.AnyAsync());
    }

    /// <summary>The app on <paramref name="database"/> with SQLite's lock timeout at 2 s (a writer waiting on its thread fails then) and no worker.</summary>
    private static Task<AppHost> StartWithTwoSecondLockTimeoutAsync(TestDatabase database) =>
        AppHost.StartAsync(database: database, settings: new Dictionary<string, string?>
        {
            ["ConnectionStrings:Default"] = database.ConnectionString + ";Default Timeout=2",
            ["Workflows:Worker:Enabled"] = "false",
        });

    [Theory]
    [InlineData("Host=db;Username=app;Password=secret", 64)]
    [InlineData("Host=db;Username=app;Password=secret;Max Auto Prepare=0", 0)]
    [InlineData("Host=db;Username=app;Password=secret;max auto prepare=10", 10)]
    [InlineData("Host=db;Username=app;Password=secret;MaxAutoPrepare=5", 5)]
    public void On_postgres_statements_are_prepared_automatically_unless_the_connection_string_says_otherwise(string given, int prepared)
    {
        var used = new Npgsql.NpgsqlConnectionStringBuilder(PersistenceExtensions.PostgresConnection(given));

        Assert.Equal(prepared, used.MaxAutoPrepare);
        Assert.Equal(("db", "app", "secret"), (used.Host, used.Username, used.Password)); // the rest as given
    }

    [Fact]
    public async Task On_postgres_the_apps_hot_statements_are_prepared_on_its_connections()
    {
        // The status read, asked for often enough, runs as a prepared statement (pg_prepared_statements is per session:
        // read through the app's own pooled connection, the one the reads used).
        await using var host = await AppHost.StartAsync(Provider.Postgres);
        await host.CreateWorkflowAsync(Api.Flows.Review);
        var run = await host.StartRunAsync("review-flow", """{"doc":"plan"}""");
        await host.WaitForTaskAsync(run);
        var client = host.Client(host.Token("bob"));
        for (var i = 0; i < 50; i++) // spread over the pool's connections, each still sees it past Npgsql's 5 uses
        {
            using var status = await client.GetAsync($"/api/executions/{run}/status");
            Assert.Equal(HttpStatusCode.OK, status.StatusCode);
        }

        // Several connections held open at once: the idle ones of the pool, whichever served the reads.
        var factory = host.Services.GetRequiredService<IDbContextFactory<AppDbContext>>();
        var contexts = new List<AppDbContext>();
        var prepared = new List<string>();
        try
        {
            for (var i = 0; i < 16; i++)
            {
                var db = await factory.CreateDbContextAsync();
                contexts.Add(db);
                await db.Database.OpenConnectionAsync();
                prepared.AddRange(await db.Database.SqlQuery<string>($"SELECT statement AS \"Value\" FROM pg_prepared_statements").ToListAsync());
            }
        }
        finally
        {
            foreach (var db in contexts)
            {
                await db.DisposeAsync();
            }
        }

        // The status read: the run with its open tasks in order (the worker's own reads of a run do not order tasks).
        Assert.Contains(prepared, s => s.Contains("FROM \"Executions\"", StringComparison.Ordinal) && s.Contains("\"StackKey\"", StringComparison.Ordinal)
            && s.Contains("ORDER BY", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_scoped_context_disposed_twice_never_hands_back_a_context_leased_meanwhile()
    {
        // The scope disposes its context once as the provider's type and once as AppDbContext; the pool must not take a
        // context back from whoever leased it between the two.
        await using var host = await AppHost.StartAsync(settings: new Dictionary<string, string?> { ["Workflows:Worker:Enabled"] = "false" });
        var factory = host.Services.GetRequiredService<IDbContextFactory<AppDbContext>>();
        await using (var scope = host.Services.CreateAsyncScope())
        {
            var scoped = scope.ServiceProvider.GetRequiredService<AppDbContext>();
            await scoped.Tasks.CountAsync();
            await scoped.DisposeAsync(); // as the first of the scope's two disposals would
            await using var other = await factory.CreateDbContextAsync();
            await scoped.DisposeAsync(); // the second, while another holds a context from the pool
            Assert.Equal(0, await other.Tasks.CountAsync()); // still its own: not reset, not disposed
        }
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
