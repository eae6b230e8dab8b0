using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace ApprovalStudio.Web.Infrastructure.Persistence;

/// <summary>
/// The one DbContext. Each provider has a subclass only so that each keeps its own migration set
/// (<see cref="SqliteAppDbContext"/>, <see cref="PostgresAppDbContext"/>, <see cref="SqlServerAppDbContext"/>).
/// </summary>
public abstract class AppDbContext(DbContextOptions options) : IdentityUserContext<AppUser>(options), IDataProtectionKeyContext
{
    /// <summary>ASP.NET Core's data-protection keys (cookies, antiforgery tokens), shared by every instance on this database.</summary>
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    public DbSet<WorkflowRecord> Workflows => Set<WorkflowRecord>();
    public DbSet<WorkflowVersionRecord> WorkflowVersions => Set<WorkflowVersionRecord>();
    public DbSet<ExecutionRecord> Executions => Set<ExecutionRecord>();
    public DbSet<TaskRecord> Tasks => Set<TaskRecord>();
    public DbSet<TaskAssigneeRecord> TaskAssignees => Set<TaskAssigneeRecord>();
    public DbSet<TaskVoteRecord> TaskVotes => Set<TaskVoteRecord>();
    public DbSet<NodeRunEntity> NodeRuns => Set<NodeRunEntity>();
    public DbSet<QueueItem> Queue => Set<QueueItem>();
    public DbSet<AuditRecord> Audit => Set<AuditRecord>();
    public DbSet<ExecutionEventRecord> ExecutionEvents => Set<ExecutionEventRecord>();
    public DbSet<ApiKeyRecord> ApiKeys => Set<ApiKeyRecord>();
    public DbSet<NotificationRecord> Notifications => Set<NotificationRecord>();
    public DbSet<MessageTemplateRecord> MessageTemplates => Set<MessageTemplateRecord>();
    public DbSet<SlackRequestRecord> SlackRequests => Set<SlackRequestRecord>();
    public DbSet<IdempotencyRecord> IdempotencyKeys => Set<IdempotencyRecord>();
    public DbSet<InstanceRecord> Instances => Set<InstanceRecord>();

    /// <summary>
    /// Begins a transaction that writes: use it rather than <c>Database.BeginTransactionAsync</c>. On SQLite
    /// it first waits, without holding a thread, for this process's other writing transactions (see <see cref="SqliteWriteGate"/>).
    /// </summary>
    public virtual Task<IDbContextTransaction> BeginWriteAsync(CancellationToken cancellationToken) =>
        Database.BeginTransactionAsync(cancellationToken);

    /// <summary>
    /// Statements that write without SaveChanges (<c>ExecuteUpdate</c>, <c>ExecuteDelete</c>, SQL) go through this. On
    /// SQLite they take a turn at the gate like every other write (run bare, such a statement would wait for the writer on
    /// its thread and fail as "database is locked"); elsewhere a single statement is its own transaction already.
    /// </summary>
    public virtual Task<T> WriteAsync<T>(Func<CancellationToken, Task<T>> write, CancellationToken cancellationToken) => write(cancellationToken);

    private PlainStatements? _plain;

    /// <summary>
    /// A plain statement in the context's open transaction, parameters <c>@p0</c>, <c>@p1</c>… from
    /// <paramref name="values"/>: for the writer's hottest statements, which EF's change tracking and raw-SQL pipeline made
    /// the longest part of the writer's turn (perf, resume ×16). The statement stays prepared while the connection stays
    /// open (<see cref="PlainStatements"/>). Writes nothing tracked: what it changes, EF does not know.
    /// </summary>
    public async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params object?[] values)
    {
        var command = Plain(sql, values);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>As <see cref="ExecuteAsync"/>, answering the first column of the first row (a RETURNING or OUTPUT); no row throws.</summary>
    public async Task<T?> ScalarAsync<T>(string sql, CancellationToken cancellationToken, params object?[] values)
    {
        var command = Plain(sql, values);
        var value = await command.ExecuteScalarAsync(cancellationToken)
            ?? throw new InvalidOperationException("The statement returned no row."); // a RETURNING of no row: the row is not there
        var type = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
        return value is DBNull ? default : (T)Convert.ChangeType(value, type, System.Globalization.CultureInfo.InvariantCulture);
    }

    private System.Data.Common.DbCommand Plain(string sql, object?[] values)
    {
        var transaction = Database.CurrentTransaction?.GetDbTransaction()
            ?? throw new InvalidOperationException("Plain statements run in the writer's transaction (BeginWriteAsync or the group commit).");
        var connection = Database.GetDbConnection();
        if (_plain is null || _plain.Connection != connection)
        {
            _plain = new PlainStatements(connection, Bind);
        }

        return _plain.Command(sql, transaction, values);
    }

    /// <summary>Gives a plain statement's parameter its value (null as DBNull); providers refine the type where inference is wrong.</summary>
    protected virtual void Bind(System.Data.Common.DbParameter parameter, object? value) => PlainStatements.Bind(parameter, value);

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // Every timestamp is UTC; SQLite hands DateTime back unspecified, so say so on the way out.
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcConverter>();
        configurationBuilder.Properties<DateTime?>().HaveConversion<NullableUtcConverter>();
        configurationBuilder.Properties<string>().HaveMaxLength(200);
    }

    protected override void OnModelCreating(ModelBuilder model)
    {
        base.OnModelCreating(model);
        model.Entity<AppUser>(e =>
        {
            e.HasIndex(x => new { x.TenantId, x.UserId }).IsUnique();
            e.Property(x => x.Groups).HasMaxLength(2000);
        });
        model.Entity<WorkflowRecord>(e =>
        {
            e.ToTable("Workflows");
            e.HasKey(x => new { x.TenantId, x.Key });
            e.Property(x => x.WebhookSecretHash).HasMaxLength(32);
            e.Property(x => x.PreviousWebhookSecretHash).HasMaxLength(32);
        });
        model.Entity<WorkflowVersionRecord>(e =>
        {
            e.ToTable("WorkflowVersions");
            e.HasKey(x => new { x.TenantId, x.Key, x.Version });
            e.Property(x => x.DefinitionJson).Unbounded();
        });
        model.Entity<ExecutionRecord>(e =>
        {
            e.ToTable("Executions");
            e.HasKey(x => x.Id);
            e.Property(x => x.Revision).IsConcurrencyToken();
            e.Property(x => x.InputJson).Unbounded();
            e.Property(x => x.StateJson).Unbounded();
            e.Property(x => x.OutputJson).Unbounded();
            e.Property(x => x.Error).HasMaxLength(4000);
            e.HasIndex(x => new { x.TenantId, x.CreatedAt });
        });
        model.Entity<TaskRecord>(e =>
        {
            e.ToTable("Tasks");
            e.HasKey(x => x.ResId);
            e.Property(x => x.StackJson).Unbounded();
            e.Property(x => x.ToolCallsJson).Unbounded();
            e.Property(x => x.OutputJson).Unbounded();
            e.Property(x => x.Title).HasMaxLength(500);
            e.HasIndex(x => new { x.ExecutionId, x.Status });
            // The inbox's orders, whole, so that a page of 100,000 pending tasks is read in index order and stops at its last
            // row (with only the first key indexed, SQLite sorted all of them: 110 ms a page). Deadline first, those without one
            // last: an index on an expression, made by the migration TaskMade.
            e.HasIndex(x => new { x.TenantId, x.Status, x.CreatedAt, x.Made });
            e.HasIndex(x => new { x.TenantId, x.Status, x.Title, x.CreatedAt, x.Made, x.ResId }, "IX_Tasks_TenantId_Status_TitleOrder")
                .IsDescending(false, false, false, true, true, false);
            e.HasIndex(x => new { x.Status, x.ExpiresAt });
            e.HasMany(x => x.Assignees).WithOne().HasForeignKey(a => a.ResId).OnDelete(DeleteBehavior.Cascade);
            e.Property(x => x.TallyJson).Unbounded(); // "all" names every user it waits for
        });
        model.Entity<TaskVoteRecord>(e =>
        {
            e.ToTable("TaskVotes");
            e.HasKey(x => x.Id);
            e.HasIndex(x => new { x.ResId, x.UserId }).IsUnique(); // a person votes once on a task, whatever the channel
            e.HasIndex(x => new { x.UserId, x.At }); // a person's history
            e.HasOne<TaskRecord>().WithMany().HasForeignKey(x => x.ResId).OnDelete(DeleteBehavior.Cascade);
            e.Property(x => x.Comment).HasMaxLength(4000);
            e.Property(x => x.Groups).HasMaxLength(2000);
        });
        model.Entity<TaskAssigneeRecord>(e =>
        {
            e.ToTable("TaskAssignees");
            e.HasKey(x => new { x.ResId, x.Kind, x.Value });
            e.HasIndex(x => new { x.Kind, x.Value });
        });
        model.Entity<NodeRunEntity>(e =>
        {
            e.ToTable("NodeRuns");
            e.HasKey(x => x.Id);
            e.Property(x => x.OutputJson).Unbounded();
            e.Property(x => x.StackJson).Unbounded();
            e.Property(x => x.Error).HasMaxLength(4000);
            e.HasIndex(x => new { x.ExecutionId, x.Id });
        });
        model.Entity<QueueItem>(e =>
        {
            e.ToTable("Queue");
            e.HasKey(x => x.Id);
            e.Property(x => x.LastError).HasMaxLength(4000);
            e.Property(x => x.TraceParent).HasMaxLength(128);
            e.HasIndex(x => new { x.Status, x.AvailableAt });
            e.HasIndex(x => new { x.ExecutionId, x.Status });
        });
        model.Entity<ExecutionEventRecord>(e =>
        {
            e.ToTable("ExecutionEvents");
            e.HasKey(x => new { x.ExecutionId, x.Sequence });
            e.Property(x => x.DataJson).Unbounded();
        });
        model.Entity<ApiKeyRecord>(e =>
        {
            e.ToTable("ApiKeys");
            e.HasKey(x => x.Id);
            e.Property(x => x.Hash).HasMaxLength(32);
            e.HasIndex(x => x.TenantId);
        });
        model.Entity<NotificationRecord>(e =>
        {
            e.ToTable("Notifications");
            e.HasKey(x => x.Id);
            e.Property(x => x.Address).HasMaxLength(2000);
            e.Property(x => x.PayloadJson).Unbounded();
            e.Property(x => x.LastError).HasMaxLength(4000);
            e.HasIndex(x => new { x.Status, x.AvailableAt });
            e.HasIndex(x => x.ResId);
        });
        model.Entity<MessageTemplateRecord>(e =>
        {
            e.ToTable("MessageTemplates");
            e.HasKey(x => new { x.TenantId, x.Name });
            e.Property(x => x.Source).Unbounded();
        });
        model.Entity<SlackRequestRecord>(e =>
        {
            e.ToTable("SlackRequests");
            e.HasKey(x => x.SignatureHash);
            e.Property(x => x.SignatureHash).HasMaxLength(32);
            e.HasIndex(x => x.ReceivedAt);
        });
        model.Entity<InstanceRecord>(e =>
        {
            e.ToTable("Instances");
            e.HasKey(x => x.Id);
            e.HasIndex(x => x.LastSeenAt);
        });
        model.Entity<IdempotencyRecord>(e =>
        {
            e.ToTable("IdempotencyKeys");
            e.HasKey(x => new { x.Scope, x.Key });
            e.Property(x => x.Fingerprint).HasMaxLength(64);
            e.Property(x => x.ResponseLocation).HasMaxLength(2000);
            e.Property(x => x.ResponseBody).Unbounded();
            e.HasIndex(x => x.ExpiresAt);
        });
        model.Entity<DataProtectionKey>(e =>
        {
            e.ToTable("DataProtectionKeys");
            e.Property(x => x.FriendlyName).HasMaxLength(400);
            e.Property(x => x.Xml).Unbounded();
        });
        model.Entity<AuditRecord>(e =>
        {
            e.ToTable("Audit");
            e.HasKey(x => x.Id);
            e.Property(x => x.PayloadJson).Unbounded();
            e.HasIndex(x => x.ResId);
            e.HasIndex(x => new { x.TenantId, x.At });
            // Who answered which step of a run (distinctApprovers, on every approval page's load) and what came after a dead letter.
            e.HasIndex(x => new { x.ExecutionId, x.Action });
        });
    }

    private sealed class UtcConverter() : ValueConverter<DateTime, DateTime>(
        v => v.Kind == DateTimeKind.Utc ? v : v.ToUniversalTime(),
        v => DateTime.SpecifyKind(v, DateTimeKind.Utc));

    private sealed class NullableUtcConverter() : ValueConverter<DateTime?, DateTime?>(
        v => v.HasValue ? (v.Value.Kind == DateTimeKind.Utc ? v : v.Value.ToUniversalTime()) : v,
        v => v.HasValue ? DateTime.SpecifyKind(v.Value, DateTimeKind.Utc) : v);
}

public sealed class SqliteAppDbContext : AppDbContext
{
    private readonly SqliteWriteGate? _gate;

    /// <summary>
    /// With the process's one gate when the options carry it (<see cref="SqliteWriteGate.Options"/>: the app's contexts,
    /// pooled); without one at design time, and in tests that open the database beside a running app.
    /// </summary>
    public SqliteAppDbContext(DbContextOptions<SqliteAppDbContext> options)
        : base(options) => _gate = options.FindExtension<SqliteWriteGate.Options>()?.Gate;

    public override Task<IDbContextTransaction> BeginWriteAsync(CancellationToken cancellationToken) =>
        _gate is null ? base.BeginWriteAsync(cancellationToken) : _gate.BeginAsync(this, cancellationToken);

    /// <summary>In a write transaction of its own (the writer's turn), unless one is open already (whose turn it is in).</summary>
    public override async Task<T> WriteAsync<T>(Func<CancellationToken, Task<T>> write, CancellationToken cancellationToken)
    {
        if (_gate is null || Database.CurrentTransaction is not null)
        {
            return await write(cancellationToken);
        }

        await using var transaction = await _gate.BeginAsync(this, cancellationToken);
        var result = await write(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    /// <summary>
    /// A save outside a transaction takes its turn at the gate too (a start, a sign-in's bookkeeping…): SQLite would
    /// otherwise make it wait for the writer by sleeping on its thread, and hold up the turn-takers behind it.
    /// </summary>
    public override Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default) =>
        _gate is null || Database.CurrentTransaction is not null || !ChangeTracker.HasChanges() // no extra change scan inside a transaction
            ? base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken)
            : WriteAsync(ct => base.SaveChangesAsync(acceptAllChangesOnSuccess, ct), cancellationToken);
}

public sealed class PostgresAppDbContext(DbContextOptions<PostgresAppDbContext> options) : AppDbContext(options);

public sealed class SqlServerAppDbContext(DbContextOptions<SqlServerAppDbContext> options) : AppDbContext(options)
{
    // SqlClient infers DATETIME (a 3 ms grain) from a DateTime; the columns are datetime2, as EF writes them.
    protected override void Bind(System.Data.Common.DbParameter parameter, object? value)
    {
        base.Bind(parameter, value);
        if (value is DateTime)
        {
            parameter.DbType = System.Data.DbType.DateTime2;
        }
    }
}

internal static class PropertyBuilderExtensions
{
    /// <summary>Lifts the 200-character default of string columns (JSON documents, states).</summary>
    public static void Unbounded<T>(this Microsoft.EntityFrameworkCore.Metadata.Builders.PropertyBuilder<T> property) =>
        property.Metadata.SetMaxLength(null);
}
