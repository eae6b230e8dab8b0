using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace ApprovalStudio.Web.Infrastructure.Persistence;

/// <summary>
/// One writing transaction at a time per process on SQLite, waited for asynchronously.
/// A SQLite database has a single writer; Microsoft.Data.Sqlite waits for the write lock by retrying
/// on the calling thread (it has no truly asynchronous I/O) until its 30-second command timeout. Fifty
/// people answering at once would each hold a thread-pool thread in that wait — on two cores the pool
/// starves, the transaction holding the lock cannot get a thread to finish, and the waiters fail with
/// "database is locked". Taking turns here first means a waiter holds no thread, and the write lock
/// is free (from this process) when its turn comes.
/// </summary>
public sealed class SqliteWriteGate
{
    private readonly SemaphoreSlim _turn = new(1, 1);

    /// <summary>
    /// Carries the gate in the contexts' options (<see cref="AddTo"/>), so that pooled contexts, made by EF from the options
    /// alone, have it. EF's own services do not use it: it asks for no services and shares EF's service provider.
    /// </summary>
    public sealed class Options : IDbContextOptionsExtension
    {
        public Options(SqliteWriteGate gate)
        {
            Gate = gate;
            Info = new GateInfo(this);
        }

        public SqliteWriteGate Gate { get; }

        public DbContextOptionsExtensionInfo Info { get; }

        public void ApplyServices(IServiceCollection services)
        {
        }

        public void Validate(IDbContextOptions options)
        {
        }

        private sealed class GateInfo(IDbContextOptionsExtension extension) : DbContextOptionsExtensionInfo(extension)
        {
            public override bool IsDatabaseProvider => false;

            public override string LogFragment => "WriteGate ";

            public override int GetServiceProviderHashCode() => 0;

            public override bool ShouldUseSameServiceProvider(DbContextOptionsExtensionInfo other) => other is GateInfo;

            public override void PopulateDebugInfo(IDictionary<string, string> debugInfo)
            {
            }
        }
    }

    /// <summary>Adds this gate to the options of the contexts being configured.</summary>
    public void AddTo(DbContextOptionsBuilder options) => ((IDbContextOptionsBuilderInfrastructure)options).AddOrUpdateExtension(new Options(this));

    public async Task<IDbContextTransaction> BeginAsync(AppDbContext db, CancellationToken cancellationToken)
    {
        await _turn.WaitAsync(cancellationToken);
        try
        {
            return new Turn(await db.Database.BeginTransactionAsync(cancellationToken), _turn);
        }
        catch
        {
            _turn.Release();
            throw;
        }
    }

    /// <summary>The transaction, handing the turn on once it is committed, rolled back or disposed — whichever comes first.</summary>
    private sealed class Turn(IDbContextTransaction inner, SemaphoreSlim turn) : IDbContextTransaction
    {
        private int _released;

        public Guid TransactionId => inner.TransactionId;

        public void Commit()
        {
            try { inner.Commit(); } finally { Release(); }
        }

        public async Task CommitAsync(CancellationToken cancellationToken = default)
        {
            try { await inner.CommitAsync(cancellationToken); } finally { Release(); }
        }

        public bool SupportsSavepoints => inner.SupportsSavepoints;

        public Task CreateSavepointAsync(string name, CancellationToken cancellationToken = default) => inner.CreateSavepointAsync(name, cancellationToken);

        public Task RollbackToSavepointAsync(string name, CancellationToken cancellationToken = default) => inner.RollbackToSavepointAsync(name, cancellationToken);

        public Task ReleaseSavepointAsync(string name, CancellationToken cancellationToken = default) => inner.ReleaseSavepointAsync(name, cancellationToken);

        public void Rollback()
        {
            try { inner.Rollback(); } finally { Release(); }
        }

        public async Task RollbackAsync(CancellationToken cancellationToken = default)
        {
            try { await inner.RollbackAsync(cancellationToken); } finally { Release(); }
        }

        public void Dispose()
        {
            try { inner.Dispose(); } finally { Release(); }
        }

        public async ValueTask DisposeAsync()
        {
            try { await inner.DisposeAsync(); } finally { Release(); }
        }

        private void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                turn.Release();
            }
        }
    }
}
