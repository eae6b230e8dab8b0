using System.Data;
using System.Data.Common;

namespace ApprovalStudio.Web.Infrastructure.Persistence;

/// <summary>
/// A connection's plain statements: one command per SQL text, kept while the connection stays open, so SQLite parses and
/// plans it once per connection instead of once per use (the group commit keeps its connection open, and so do the
/// connections of <see cref="SqliteReads"/>; Npgsql prepares on its own). Dropped when the connection closes. Parameters are
/// <c>@p0</c>, <c>@p1</c>… in order. Used by <see cref="AppDbContext.ExecuteAsync"/>, <see cref="AppDbContext.ScalarAsync{T}"/>
/// and <see cref="SqliteReads"/>.
/// </summary>
internal sealed class PlainStatements
{
    private readonly DbConnection _connection;
    private readonly Action<DbParameter, object?> _bind;
    private readonly Dictionary<string, DbCommand> _commands = new(StringComparer.Ordinal);

    public PlainStatements(DbConnection connection, Action<DbParameter, object?> bind)
    {
        _connection = connection;
        _bind = bind;
        connection.StateChange += (_, change) =>
        {
            if (change.CurrentState == ConnectionState.Closed)
            {
                Clear();
            }
        };
    }

    public DbConnection Connection => _connection;

    /// <summary>The way a value is given to a parameter unless a provider knows better: null as DBNull, timestamps in UTC (as EF's converters store them).</summary>
    public static void Bind(DbParameter parameter, object? value) => parameter.Value = value switch
    {
        null => DBNull.Value,
        DateTime { Kind: not DateTimeKind.Utc } local => local.ToUniversalTime(),
        _ => value,
    };

    /// <summary>The command for <paramref name="sql"/>, in <paramref name="transaction"/> (none: outside one), with <paramref name="values"/> bound.</summary>
    public DbCommand Command(string sql, DbTransaction? transaction, ReadOnlySpan<object?> values)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = _connection.CreateCommand();
            command.CommandText = sql;
            for (var i = 0; i < values.Length; i++)
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = $"@p{i}";
                command.Parameters.Add(parameter);
            }

            _commands.Add(sql, command);
        }

        command.Transaction = transaction;
        for (var i = 0; i < values.Length; i++)
        {
            _bind(command.Parameters[i], values[i]);
        }

        return command;
    }

    private void Clear()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

        _commands.Clear();
    }
}
