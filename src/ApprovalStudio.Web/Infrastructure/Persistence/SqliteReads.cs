using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace ApprovalStudio.Web.Infrastructure.Persistence;

/// <summary>
/// SQLite only: the reads asked for on every poll and every answer (a run's status, the task an answer is for) run on
/// connections kept open, each statement prepared once per connection. Through EF, each such read leased a context, opened
/// a pooled connection, had SQLite parse and plan the statement again and shaped rows through EF: measured one at a time
/// on two cores, 3,500 status reads a second through EF, 9,200 with plain ADO.NET preparing each time, 15,200 here (the
/// same route reading nothing: 21,000).
/// <para>
/// A connection serves one read at a time (<see cref="Rent"/>) and is read-only (<c>PRAGMA query_only</c>): nothing can
/// write through it. A lease's reader must be disposed before the lease: then no read transaction outlives the read, so
/// the next read sees every commit and WAL checkpoints are never held back. At most <see cref="Keep"/> connections stay
/// open; a busier moment opens more and closes them when they come back.
/// </para>
/// </summary>
public sealed class SqliteReads : IDisposable
{
    private readonly string _connectionString;
    private readonly ConcurrentQueue<Connection> _idle = new();
    private int _idleCount;
    private volatile bool _disposed;

    public SqliteReads(string connectionString, int? keep = null)
    {
        // Outside Microsoft.Data.Sqlite's pool: a read-only handle handed back there would go to the next writer.
        _connectionString = new SqliteConnectionStringBuilder(connectionString) { Pooling = false }.ToString();
        Keep = keep ?? Math.Max(4, 2 * Environment.ProcessorCount);
    }

    /// <summary>How many idle connections stay open.</summary>
    public int Keep { get; }

    /// <summary>Connections open now, idle ones; for tests.</summary>
    internal int Idle => Volatile.Read(ref _idleCount);

    /// <summary>A connection of its own for one read (or a few in a row); dispose it to give it back.</summary>
    public Lease Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_idle.TryDequeue(out var connection))
        {
            Interlocked.Decrement(ref _idleCount);
        }
        else
        {
            connection = new Connection(_connectionString);
        }

        connection.Leased = 1;
        return new Lease(this, connection);
    }

    private void Return(Connection connection)
    {
        if (Interlocked.Exchange(ref connection.Leased, 0) == 0)
        {
            return; // given back already (a lease disposed twice): never queue one connection twice
        }

        if (!_disposed && !connection.Broken)
        {
            if (Interlocked.Increment(ref _idleCount) <= Keep)
            {
                _idle.Enqueue(connection);
                if (_disposed)
                {
                    Drain(); // disposed meanwhile: Dispose may have drained the queue before this one arrived
                }

                return;
            }

            Interlocked.Decrement(ref _idleCount);
        }

        connection.Dispose();
    }

    public void Dispose()
    {
        _disposed = true;
        Drain();
    }

    private void Drain()
    {
        while (_idle.TryDequeue(out var connection))
        {
            Interlocked.Decrement(ref _idleCount);
            connection.Dispose();
        }
    }

    /// <summary>A rented connection: its statements, prepared on first use.</summary>
    public readonly struct Lease : IDisposable
    {
        private readonly SqliteReads _owner;
        private readonly Connection _connection;

        internal Lease(SqliteReads owner, Connection connection)
        {
            _owner = owner;
            _connection = connection;
        }

        /// <summary>
        /// Runs <paramref name="sql"/> (a constant: one prepared statement per text and connection) with
        /// <paramref name="values"/> bound to <c>@p0</c>, <c>@p1</c>…; dispose the reader before the lease.
        /// </summary>
        public SqliteDataReader Read(string sql, params ReadOnlySpan<object?> values)
        {
            var command = _connection.Command(sql, values);
            try
            {
                return command.ExecuteReader();
            }
            catch
            {
                _connection.Broken = true; // not kept: whatever went wrong may be the connection's own
                throw;
            }
        }

        /// <summary>
        /// Makes the reads that follow, until the result is disposed, one snapshot (a read transaction): no commit falls
        /// between them. Dispose it before the lease.
        /// </summary>
        public Snapshot BeginSnapshot()
        {
            using (Read("BEGIN"))
            {
            }

            return new Snapshot(_connection);
        }

        public void Dispose() => _owner?.Return(_connection);
    }

    /// <summary>A read transaction on a rented connection, ended on dispose.</summary>
    public readonly struct Snapshot : IDisposable
    {
        private readonly Connection _connection;

        internal Snapshot(Connection connection) => _connection = connection;

        public void Dispose()
        {
            try
            {
                using var end = _connection.Command("COMMIT", []).ExecuteReader();
            }
            catch
            {
                _connection.Broken = true; // a connection left in a read transaction would serve stale reads: not kept
                throw;
            }
        }
    }

    internal sealed class Connection : IDisposable
    {
        private readonly SqliteConnection _connection;
        private readonly PlainStatements _statements;

        public bool Broken { get; set; }

        /// <summary>1 while a lease holds it.</summary>
        public int Leased;

        public Connection(string connectionString)
        {
            _connection = new SqliteConnection(connectionString);
            try
            {
                _connection.Open();
                using var readOnly = _connection.CreateCommand();
                readOnly.CommandText = "PRAGMA query_only = ON;";
                readOnly.ExecuteNonQuery();
            }
            catch
            {
                _connection.Dispose();
                throw;
            }

            _statements = new PlainStatements(_connection, PlainStatements.Bind);
        }

        public SqliteCommand Command(string sql, ReadOnlySpan<object?> values) => (SqliteCommand)_statements.Command(sql, null, values);

        // Closing the connection disposes its statements (PlainStatements drops them when it closes).
        public void Dispose() => _connection.Dispose();
    }
}

/// <summary>Reading the app's columns from a <see cref="SqliteReads"/> row as EF would.</summary>
public static class SqliteRowExtensions
{
    public static string? TextOrNull(this SqliteDataReader row, int column) => row.IsDBNull(column) ? null : row.GetString(column);

    /// <summary>Every timestamp is stored UTC (AppDbContext's converters say so to EF), as SQLite text.</summary>
    public static DateTime? UtcOrNull(this SqliteDataReader row, int column) => row.IsDBNull(column) ? null : row.Utc(column);

    public static DateTime Utc(this SqliteDataReader row, int column) => DateTime.SpecifyKind(row.GetDateTime(column), DateTimeKind.Utc);
}
