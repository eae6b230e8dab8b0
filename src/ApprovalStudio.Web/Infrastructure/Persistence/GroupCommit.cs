using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Infrastructure.Persistence;

/// <summary>
/// Group commit: units of work that arrive while a commit is under way share the next transaction and its one commit —
/// one fsync for many answers, run starts and worker steps instead of one each, and one turn of SQLite's single writer. Each unit runs in a savepoint
/// of its own, so a unit that throws, or declines (returns <c>Commit: false</c>), is rolled back alone and the others
/// still commit. A unit learns its result only after the commit: "accepted" still means "on disk". A unit cancelled
/// before its turn does not run. Units must only write through the context they are given (statements and Adds; the
/// context's tracked entities are cleared after each unit) and must not wait on anything but the database.
/// <para>
/// On SQLite only, where writers take turns anyway. PostgreSQL and SQL Server run many transactions at once and group
/// their own log flushes; there a unit runs at once in a transaction of its own (measured: batching them through one
/// connection halved PostgreSQL's rate, benchmarks/reports/load-2026-12-01-*).
/// </para>
/// </summary>
public sealed class GroupCommit(IDbContextFactory<AppDbContext> contexts, ILogger<GroupCommit> log) : BackgroundService
{
    /// <summary>At most this many units share one transaction (bounds how long the writer is held).</summary>
    public const int MaxBatch = 64;

    private readonly Channel<Unit> _units = Channel.CreateUnbounded<Unit>(new UnboundedChannelOptions { SingleReader = true });
    private long _commits;

    // Batching is for SQLite's single writer (see above); decided once, from the provider's context type.
    private readonly Lazy<bool> _batches = new(() =>
    {
        using var probe = contexts.CreateDbContext();
        return probe is SqliteAppDbContext;
    });

    /// <summary>Transactions committed so far (each carrying one or more units).</summary>
    public long Commits => Interlocked.Read(ref _commits);

    public async Task<T> RunAsync<T>(Func<AppDbContext, CancellationToken, Task<(T Value, bool Commit)>> work, CancellationToken cancellationToken)
    {
        if (!_batches.Value)
        {
            return await RunAloneAsync(work, cancellationToken);
        }

        var unit = new Unit<T>(work, cancellationToken);
        await _units.Writer.WriteAsync(unit, cancellationToken);
        return await unit.Result.Task;
    }

    /// <summary>How many times a unit the server chose as a deadlock's victim is run again, in a fresh transaction.</summary>
    public const int DeadlockAttempts = 3;

    private async Task<T> RunAloneAsync<T>(Func<AppDbContext, CancellationToken, Task<(T Value, bool Commit)>> work, CancellationToken cancellationToken)
    {
        // Answers lock a task, then its run; a worker step locks the run (its revision claim), then, when the run ends, its
        // other tasks. Two such transactions can deadlock, and the server rolls one back: that one is simply run again
        // (its guards decide anew: an answer whose task was taken gets its 409, a step whose run moved on its conflict).
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await RunOnceAloneAsync(work, cancellationToken);
            }
            catch (Exception ex) when (attempt < DeadlockAttempts && IsDeadlock(ex))
            {
                GroupCommitLog.DeadlockRetried(log, attempt);
            }
        }
    }

    /// <summary>PostgreSQL's deadlock (40P01) and serialization failure (40001), SQL Server's deadlock victim (1205).</summary>
    public static bool IsDeadlock(Exception exception)
    {
        for (var ex = exception; ex is not null; ex = ex.InnerException)
        {
            if (ex is System.Data.Common.DbException { SqlState: "40P01" or "40001" } || ex is Microsoft.Data.SqlClient.SqlException { Number: 1205 })
            {
                return true;
            }
        }

        return false;
    }

    private async Task<T> RunOnceAloneAsync<T>(Func<AppDbContext, CancellationToken, Task<(T Value, bool Commit)>> work, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.BeginWriteAsync(cancellationToken);
        var (value, commit) = await work(db, cancellationToken);
        if (commit)
        {
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            Interlocked.Increment(ref _commits);
        }
        else
        {
            await transaction.RollbackAsync(cancellationToken);
        }

        return value;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Unit>(MaxBatch);
        AppDbContext? writer = null;
        try
        {
            while (await _units.Reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                while (batch.Count < MaxBatch && _units.Reader.TryRead(out var unit))
                {
                    if (unit.CancellationToken.IsCancellationRequested)
                    {
                        unit.Cancel();
                    }
                    else
                    {
                        batch.Add(unit);
                    }
                }

                if (batch.Count > 0)
                {
                    try
                    {
                        writer ??= await OpenWriterAsync(stoppingToken);
                    }
                    catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                    {
                        GroupCommitLog.BatchFailed(log, batch.Count, ex);
                        batch.ForEach(unit => unit.Fail(ex));
                        continue;
                    }

                    if (!await CommitAsync(writer, batch, stoppingToken))
                    {
                        // Whatever failed may have been the connection's: the next batch starts on a fresh one.
                        await writer.DisposeAsync();
                        writer = null;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            _units.Writer.TryComplete();
            foreach (var taken in batch.Where(u => !u.Done))
            {
                taken.Fail(new OperationCanceledException("The app is stopping."));
            }

            while (_units.Reader.TryRead(out var left))
            {
                left.Fail(new OperationCanceledException("The app is stopping."));
            }

            if (writer is not null)
            {
                await writer.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// The writer's context, kept with its connection open from batch to batch: no connection to open and set up per
    /// turn, and the units' plain statements (<see cref="AppDbContext.ExecuteAsync"/>) stay prepared.
    /// </summary>
    private async Task<AppDbContext> OpenWriterAsync(CancellationToken cancellationToken)
    {
        var db = await contexts.CreateDbContextAsync(cancellationToken);
        try
        {
            await db.Database.OpenConnectionAsync(cancellationToken);
            return db;
        }
        catch
        {
            await db.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs and commits one batch on the writer; false if the batch as a whole failed (nothing of it is on disk).</summary>
    private async Task<bool> CommitAsync(AppDbContext db, List<Unit> batch, CancellationToken stoppingToken)
    {
        try
        {
            await using var transaction = await db.BeginWriteAsync(stoppingToken);
            var single = batch.Count == 1;
            foreach (var unit in batch)
            {
                // One unit alone needs no savepoint: its own rollback is the transaction's.
                if (!single)
                {
                    await transaction.CreateSavepointAsync("unit", stoppingToken);
                }

                try
                {
                    unit.Committed = await unit.RunAsync(db, stoppingToken);
                    if (unit.Committed)
                    {
                        await db.SaveChangesAsync(stoppingToken);
                        if (!single)
                        {
                            await transaction.ReleaseSavepointAsync("unit", stoppingToken);
                        }
                    }
                    else if (!single)
                    {
                        await transaction.RollbackToSavepointAsync("unit", stoppingToken);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    if (!single)
                    {
                        await transaction.RollbackToSavepointAsync("unit", stoppingToken);
                    }

                    unit.Failed = ex;
                }
                finally
                {
                    db.ChangeTracker.Clear();
                }
            }

            if (single && (batch[0].Failed is not null || !batch[0].Committed))
            {
                await transaction.RollbackAsync(stoppingToken);
            }
            else
            {
                await transaction.CommitAsync(stoppingToken);
                Interlocked.Increment(ref _commits);
            }

            foreach (var unit in batch)
            {
                unit.Complete();
            }

            return true;
        }
        catch (Exception ex)
        {
            // The commit itself failed (or the database is gone): nothing of the batch is on disk.
            GroupCommitLog.BatchFailed(log, batch.Count, ex);
            foreach (var unit in batch)
            {
                unit.Fail(ex);
            }

            return false;
        }
    }

    private abstract class Unit(CancellationToken cancellationToken)
    {
        public CancellationToken CancellationToken { get; } = cancellationToken;

        public Exception? Failed { get; set; }

        public bool Committed { get; set; }

        /// <summary>Answered (completed, failed or cancelled).</summary>
        public bool Done { get; protected set; }

        public abstract Task<bool> RunAsync(AppDbContext db, CancellationToken cancellationToken);

        public abstract void Complete();

        public abstract void Fail(Exception exception);

        public abstract void Cancel();
    }

    private sealed class Unit<T>(Func<AppDbContext, CancellationToken, Task<(T Value, bool Commit)>> work, CancellationToken cancellationToken)
        : Unit(cancellationToken)
    {
        private T _value = default!;

        public TaskCompletionSource<T> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async Task<bool> RunAsync(AppDbContext db, CancellationToken cancellationToken)
        {
            var (value, commit) = await work(db, cancellationToken);
            _value = value;
            return commit;
        }

        public override void Complete()
        {
            Done = true;
            if (Failed is not null)
            {
                Result.TrySetException(Failed);
            }
            else
            {
                Result.TrySetResult(_value);
            }
        }

        public override void Fail(Exception exception)
        {
            Done = true;
            Result.TrySetException(exception);
        }

        public override void Cancel()
        {
            Done = true;
            Result.TrySetCanceled(CancellationToken);
        }
    }
}

internal static partial class GroupCommitLog
{
    [LoggerMessage(Level = LogLevel.Error, Message = "A group commit of {Count} units failed; none of them is on disk")]
    public static partial void BatchFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "A unit of work was a deadlock's victim (attempt {Attempt}); running it again")]
    public static partial void DeadlockRetried(ILogger logger, int attempt);
}
