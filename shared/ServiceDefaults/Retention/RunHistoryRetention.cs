using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CrewPlatform.ServiceDefaults.Retention;

/// <summary>
/// One table's retention: a statement that deletes at most <c>@batch</c> rows of <paramref name="Table"/> that ended
/// before <c>@cutoff</c> (a <c>timestamptz</c>), plus whatever <see cref="RunHistoryRetention.Bind"/> adds.
/// </summary>
public sealed record RetentionStep(string Table, string Sql);

/// <summary>What one run-history pass removed, per table in the order the pass deleted them. <see cref="Ran"/> is false when another replica held the pass.</summary>
public sealed record RunHistoryPass(bool Ran, IReadOnlyList<(string Table, long Deleted)> Deleted, TimeSpan Took)
{
    public static readonly RunHistoryPass NotThisReplica = new(false, [], TimeSpan.Zero);

    public long Of(string table) => Deleted.Where(d => d.Table == table).Sum(d => d.Deleted);

    public long Total => Deleted.Sum(d => d.Deleted);
}

/// <summary>
/// A service's run-history retention (<c>CREW_RUN_HISTORY_RETAIN_DAYS</c>): its <see cref="Steps"/> in order, each in
/// batches of <c>CREW_RUN_HISTORY_RETENTION_BATCH</c> rows (<see cref="BatchedDelete"/>), children before their parents
/// so that no statement cascades into an unbounded number of rows. One replica at a time: a <see cref="PassLock"/> on
/// the service's own <see cref="PassLockKey"/>. A row ends exactly <c>RETAIN_DAYS</c> before now is kept; one that
/// ended earlier goes. Each pass logs one line (rows per table, duration) and counts them in
/// <c>crew_run_history_retention_deleted_total{table}</c>.
/// </summary>
public abstract partial class RunHistoryRetention(
    NpgsqlDataSource dataSource,
    IOptions<RunHistoryRetentionOptions> options,
    RunHistoryRetentionMetrics metrics,
    ILogger logger) : IRetentionPass
{
    private readonly RunHistoryRetentionOptions settings = options.Value;

    public string Name => "run history retention";

    public bool Enabled => settings.RetainDays is not null;

    public TimeSpan Interval => TimeSpan.FromMinutes(settings.IntervalMinutes);

    /// <summary>The pass's advisory lock, distinct per service so that each service's replicas take turns among themselves.</summary>
    protected abstract long PassLockKey { get; }

    /// <summary>The deletes, in the order they run.</summary>
    protected abstract IReadOnlyList<RetentionStep> Steps { get; }

    /// <summary>Parameters a service's statements need beside <c>@cutoff</c> and <c>@batch</c>.</summary>
    protected virtual void Bind(NpgsqlParameterCollection parameters, DateTimeOffset now)
    {
    }

    async Task IRetentionPass.RunPassAsync(DateTimeOffset now, CancellationToken cancellationToken) => await RunOnceAsync(now, cancellationToken);

    /// <summary>One pass with <paramref name="now"/> as the present, in one replica at a time. Deletes nothing without a setting.</summary>
    public async Task<RunHistoryPass> RunOnceAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (settings.RetainDays is not { } days)
        {
            return new RunHistoryPass(true, [], TimeSpan.Zero);
        }

        await using var passLock = await PassLock.TryTakeAsync(dataSource, PassLockKey, cancellationToken);
        if (passLock is null)
        {
            LogNotThisReplica(logger);
            return RunHistoryPass.NotThisReplica;
        }

        var started = Stopwatch.GetTimestamp();
        var cutoff = now.ToUniversalTime().AddDays(-days);
        var deleted = new List<(string Table, long Deleted)>();
        foreach (var step in Steps)
        {
            var rows = await BatchedDelete.UntilDoneAsync(
                dataSource,
                step.Sql,
                settings.Batch,
                parameters =>
                {
                    parameters.Add(new NpgsqlParameter<DateTimeOffset>("cutoff", cutoff));
                    Bind(parameters, now);
                },
                cancellationToken);
            deleted.Add((step.Table, rows));
        }

        var pass = new RunHistoryPass(true, deleted, Stopwatch.GetElapsedTime(started));
        metrics.Deleted(pass);
        LogPass(logger, string.Join(", ", deleted.Select(d => $"{d.Table} {d.Deleted}")), days, (long)pass.Took.TotalMilliseconds);
        return pass;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run history retention pass: deleted {Deleted} (ended more than {RetainDays} days ago), in {DurationMs} ms")]
    private static partial void LogPass(ILogger logger, string deleted, int retainDays, long durationMs);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Run history retention pass skipped: another replica holds it")]
    private static partial void LogNotThisReplica(ILogger logger);
}

/// <summary><c>crew_run_history_retention_deleted_total{table}</c>, in every service that deletes run history.</summary>
public sealed class RunHistoryRetentionMetrics
{
    private readonly Counter<long> deleted;

    public RunHistoryRetentionMetrics(IMeterFactory meterFactory)
    {
        var meter = PlatformMeters.Create(meterFactory, "RunHistoryRetention");
        deleted = meter.CreateCounter<long>(
            "crew_run_history_retention_deleted", description:
            "Run history rows the retention pass deleted (older than CREW_RUN_HISTORY_RETAIN_DAYS), by table: runs, run_users (Scheduler), crew_calls, spend_scopes, cancelled_runs (CrewCaller), deliveries, delivery_attempts (Webhooks)");
    }

    /// <summary>Adds every table of a pass that ran, zeros included, so each series exists from the first pass.</summary>
    public void Deleted(RunHistoryPass pass)
    {
        foreach (var (table, rows) in pass.Deleted)
        {
            deleted.Add(rows, new KeyValuePair<string, object?>("table", table));
        }
    }
}

public static class RunHistoryRetentionRegistration
{
    /// <summary>
    /// <c>CREW_RUN_HISTORY_*</c> (validated at startup), the metrics, and <typeparamref name="TRetention"/> with the loop
    /// that runs it at startup and every <c>CREW_RUN_HISTORY_RETENTION_INTERVAL_MINUTES</c>.
    /// </summary>
    public static TBuilder AddRunHistoryRetention<TBuilder, TRetention>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
        where TRetention : RunHistoryRetention
    {
        builder.AddValidatedOptions<RunHistoryRetentionOptions>();
        builder.Services.AddMetrics();
        builder.Services.TryAddSingleton<RunHistoryRetentionMetrics>();
        builder.Services.AddRetentionPass<TRetention>();
        return builder;
    }
}
