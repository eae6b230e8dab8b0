using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace ApprovalStudio.Testing;

/// <summary>
/// The SQL that EF Core runs on one test's database while this is open (EF's DiagnosticListener events, filtered by the
/// database file or name, so other tests running at the same time do not count): for tests that a behaviour reads
/// nothing, or reads once however many pages are open.
/// </summary>
public sealed class SqlCommands : IDisposable, IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>
{
    private readonly ConcurrentQueue<(string Text, IReadOnlyDictionary<string, object?> Parameters)> _commands = new();
    private readonly List<IDisposable> _subscriptions = [];
    private readonly string _database;

    private SqlCommands(string database)
    {
        _database = database;
        _subscriptions.Add(DiagnosticListener.AllListeners.Subscribe(this));
    }

    /// <summary>
    /// Records the commands run on <paramref name="host"/>'s database from when it returns. EF caches for a second whether
    /// anyone listens, and the app's contexts are pooled (a context's logger outlives its lease), so this waits that second
    /// out: a command run right after subscribing would otherwise go unseen.
    /// </summary>
    public static async Task<SqlCommands> OnAsync(AppHost host)
    {
        var commands = new SqlCommands(host.Database.Provider == Provider.Sqlite
            ? host.Database.Folder
            : new Npgsql.NpgsqlConnectionStringBuilder(host.Database.ConnectionString).Database!);
        await Task.Delay(LoggingCacheTime + TimeSpan.FromMilliseconds(100));
        return commands;
    }

    /// <summary>EF's default (<c>DbContextOptionsBuilder.ConfigureLoggingCacheTime</c>), which the app keeps.</summary>
    private static readonly TimeSpan LoggingCacheTime = TimeSpan.FromSeconds(1);

    /// <summary>How many commands ran whose text holds <paramref name="fragment"/> (a query tag, a table).</summary>
    public int Count(string fragment) => _commands.Count(c => c.Text.Contains(fragment, StringComparison.Ordinal));

    /// <summary>The commands whose text holds <paramref name="fragment"/>, with the values they ran with, in the order they ran.</summary>
    public IReadOnlyList<(string Text, IReadOnlyDictionary<string, object?> Parameters)> Commands(string fragment) =>
        [.. _commands.Where(c => c.Text.Contains(fragment, StringComparison.Ordinal))];

    public void Clear() => _commands.Clear();

    public void Dispose()
    {
        lock (_subscriptions)
        {
            _subscriptions.ForEach(s => s.Dispose());
            _subscriptions.Clear();
        }
    }

    void IObserver<DiagnosticListener>.OnNext(DiagnosticListener listener)
    {
        if (listener.Name == DbLoggerCategory.Name)
        {
            lock (_subscriptions)
            {
                _subscriptions.Add(listener.Subscribe(this, name => name == RelationalEventId.CommandExecuted.Name));
            }
        }
    }

    void IObserver<KeyValuePair<string, object?>>.OnNext(KeyValuePair<string, object?> value)
    {
        if (value.Value is CommandExecutedEventData { Command: { } command }
            && (command.Connection?.DataSource?.Contains(_database, StringComparison.Ordinal) == true
                || command.Connection?.Database == _database))
        {
            _commands.Enqueue((command.CommandText, command.Parameters.Cast<System.Data.Common.DbParameter>()
                .ToDictionary(p => p.ParameterName, p => p.Value is DBNull ? null : p.Value, StringComparer.Ordinal)));
        }
    }

    void IObserver<DiagnosticListener>.OnCompleted()
    {
    }

    void IObserver<DiagnosticListener>.OnError(Exception error)
    {
    }

    void IObserver<KeyValuePair<string, object?>>.OnCompleted()
    {
    }

    void IObserver<KeyValuePair<string, object?>>.OnError(Exception error)
    {
    }
}
