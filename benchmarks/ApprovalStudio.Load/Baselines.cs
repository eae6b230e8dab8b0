using System.Text.Json;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ApprovalStudio.Load;

/// <summary>
/// The floors the app is measured against, served by this same program in a child process (<c>--serve …</c>), so they
/// pay for the same HTTP stack and the same load generator as the app:
/// <c>bare</c> — Kestrel reads the JSON body and answers 202 (and a small JSON to a GET);
/// <c>sqlite</c> — the same plus one WAL transaction per request (an INSERT), one writer at a time, SQLite's default
/// (FULL) synchronous as the app has it: the floor of a durable 202 on one file;
/// <c>postgres</c> — the same on PostgreSQL, one transaction per request, concurrent.
/// </summary>
public static class Baselines
{
    public static async Task<int> ServeAsync(string kind, int port, string? connection)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        var accepted = new { executionId = "00000000000000000000000000000000", status = "Resuming" };
        var gate = new SemaphoreSlim(1, 1);
        NpgsqlDataSource? postgres = null;

        switch (kind)
        {
            case "sqlite":
                await using (var c = new SqliteConnection(connection))
                {
                    await c.OpenAsync();
                    await Exec(c, "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS Answers (Id INTEGER PRIMARY KEY, ResId TEXT NOT NULL, Body TEXT NOT NULL);");
                }

                break;
            case "postgres":
                postgres = NpgsqlDataSource.Create(connection!);
                await using (var c = await postgres.OpenConnectionAsync())
                {
                    await using var create = new NpgsqlCommand("DROP TABLE IF EXISTS load_floor_answers; CREATE TABLE load_floor_answers (id bigserial PRIMARY KEY, res_id text NOT NULL, body text NOT NULL)", c);
                    await create.ExecuteNonQueryAsync();
                }

                break;
        }

        app.MapGet("/health/ready", () => Results.Ok());
        app.MapGet("/status/{id}", (string id) => Results.Ok(new { executionId = id, status = "Suspended", waiting = Array.Empty<object>() }));
        app.MapPost("/resume/{id}", async (string id, HttpRequest request) =>
        {
            using var body = await JsonDocument.ParseAsync(request.Body);
            var text = body.RootElement.GetRawText();
            if (kind == "sqlite")
            {
                await gate.WaitAsync();
                try
                {
                    await using var c = new SqliteConnection(connection);
                    await c.OpenAsync();
                    await using var tx = (SqliteTransaction)await c.BeginTransactionAsync();
                    await using var insert = new SqliteCommand("INSERT INTO Answers (ResId, Body) VALUES ($r, $b)", c, tx);
                    insert.Parameters.AddWithValue("$r", id);
                    insert.Parameters.AddWithValue("$b", text);
                    await insert.ExecuteNonQueryAsync();
                    await tx.CommitAsync();
                }
                finally
                {
                    gate.Release();
                }
            }
            else if (postgres is not null)
            {
                await using var c = await postgres.OpenConnectionAsync();
                await using var tx = await c.BeginTransactionAsync();
                await using var insert = new NpgsqlCommand("INSERT INTO load_floor_answers (res_id, body) VALUES ($1, $2)", c, tx);
                insert.Parameters.AddWithValue(id);
                insert.Parameters.AddWithValue(text);
                await insert.ExecuteNonQueryAsync();
                await tx.CommitAsync();
            }

            return Results.Accepted(null, accepted);
        });
        await app.RunAsync();
        return 0;
    }

    private static async Task Exec(SqliteConnection connection, string sql)
    {
        await using var command = new SqliteCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
