using System.ComponentModel.DataAnnotations;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.ServiceDefaults.Retention;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CrewPlatform.Scheduler.Retention;

/// <summary>How long the audit trail keeps its rows. Validated at startup: a bad value stops the Scheduler naming it.</summary>
public sealed class AuditRetentionOptions
{
    /// <summary>The least the audit trail keeps; <c>audit.delete_expired</c> refuses to delete younger rows whatever it is asked.</summary>
    public const int MinRetainDays = 30;

    /// <summary>Audit rows older than this many days are deleted, in the Scheduler, every <c>CREW_RUN_HISTORY_RETENTION_INTERVAL_MINUTES</c>.</summary>
    [ConfigurationKeyName("CREW_AUDIT_RETAIN_DAYS")]
    [Range(MinRetainDays, RunHistoryRetentionOptions.MaxRetainDays, ErrorMessage = "CREW_AUDIT_RETAIN_DAYS must be a whole number of days from 30 to 36500")]
    public int RetainDays { get; set; } = 365;
}

/// <summary>
/// The audit trail's retention (<c>CREW_AUDIT_RETAIN_DAYS</c>, 365 by default), in one Scheduler replica at a time:
/// <c>audit.delete_expired</c>, the one way a service may delete audit rows (deploy/postgres/audit.sql), in batches of
/// <c>CREW_RUN_HISTORY_RETENTION_BATCH</c> until a batch comes back short. The cutoff is the database's clock, not the
/// service's: a service cannot make rows look older than they are.
/// </summary>
public sealed partial class AuditRetention(
    NpgsqlDataSource dataSource,
    IOptions<AuditRetentionOptions> options,
    IOptions<RunHistoryRetentionOptions> passes,
    ILogger<AuditRetention> logger) : IRetentionPass
{
    /// <summary>The pass's advisory lock ("CRWAUDIT").</summary>
    public const long Key = 0x4352_5741_5544_4954;

    public string Name => "audit retention";

    public bool Enabled => true;

    public TimeSpan Interval => TimeSpan.FromMinutes(passes.Value.IntervalMinutes);

    async Task IRetentionPass.RunPassAsync(DateTimeOffset now, CancellationToken cancellationToken) => await RunOnceAsync(cancellationToken);

    /// <summary>One pass; the rows it deleted, or null when another replica held the pass.</summary>
    public async Task<long?> RunOnceAsync(CancellationToken cancellationToken)
    {
        await using var passLock = await PassLock.TryTakeAsync(dataSource, Key, cancellationToken);
        if (passLock is null)
        {
            return null;
        }

        var batch = passes.Value.Batch;
        long deleted = 0;
        int rows;
        do
        {
            await using var command = dataSource.CreateCommand("SELECT audit.delete_expired(@days, @batch)");
            command.Parameters.Add(new NpgsqlParameter<int>("days", options.Value.RetainDays));
            command.Parameters.Add(new NpgsqlParameter<int>("batch", batch));
            rows = (int)(await command.ExecuteScalarAsync(cancellationToken))!;
            deleted += rows;
        }
        while (rows == batch);

        LogPass(logger, deleted, options.Value.RetainDays);
        return deleted;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Audit retention pass: deleted {Deleted} entries older than {RetainDays} days")]
    private static partial void LogPass(ILogger logger, long deleted, int retainDays);
}
