using Coravel.Invocable;
using CrewPlatform.Scheduler.Persistence;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CrewPlatform.Scheduler.Runs;

/// <summary>
/// Reads the schedules' and the running runs' state for <see cref="SchedulerMetrics"/>' gauges, every tick, in every
/// replica: one indexed query, so a scrape never waits on the database.
/// </summary>
public sealed partial class RunGaugesRefresh(
    NpgsqlDataSource dataSource, SchedulerMetrics metrics, IOptions<SchedulerOptions> options, TimeProvider time, ILogger<RunGaugesRefresh> logger)
    : IInvocable, ICancellableInvocable
{
    private readonly SchedulerOptions settings = options.Value;

    public CancellationToken CancellationToken { get; set; }

    public async Task Invoke()
    {
        try
        {
            await RefreshAsync(CancellationToken);
        }
        catch (Exception ex) when (!CancellationToken.IsCancellationRequested)
        {
            // The gauges keep their last values; a Scheduler that cannot reach PostgreSQL is not ready anyway.
            LogRefreshFailed(logger, ex);
        }
    }

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        // Same conditions as the reconciler's claims (RunReconciler), so the backlog is what its next pass acts on.
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT
                count(*),
                min(last_progress_at),
                count(*) FILTER (WHERE NOT fan_out_completed AND greatest(last_progress_at, last_reconciled_at) < @stalledBefore),
                count(*) FILTER (WHERE fan_out_completed AND greatest(last_progress_at, last_reconciled_at) < @quietBefore)
            FROM scheduler.runs WHERE status = '{RunStatus.Running}';
            SELECT name, next_due_at FROM scheduler.schedule WHERE is_running AND next_due_at IS NOT NULL;
            """);
        var now = time.GetUtcNow();
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("stalledBefore", now.AddSeconds(-settings.FanOutStallSeconds)));
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("quietBefore", now.AddMinutes(-settings.RedispatchAfterMinutes)));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var oldestProgress = reader.IsDBNull(1) ? now : reader.GetFieldValue<DateTimeOffset>(1);
        var (running, stalled, awaiting) = ((int)reader.GetInt64(0), (int)reader.GetInt64(2), (int)reader.GetInt64(3));
        await reader.NextResultAsync(cancellationToken);
        var nextDue = new List<(string, DateTimeOffset)>();
        while (await reader.ReadAsync(cancellationToken))
        {
            nextDue.Add((reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1)));
        }

        metrics.Refreshed(new RunGauges(
            NextDue: nextDue,
            RunsRunning: running,
            LongestWithoutProgress: oldestProgress < now ? now - oldestProgress : TimeSpan.Zero,
            StalledFanOuts: stalled,
            RunsAwaitingOutcomes: awaiting));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the run gauges for the metrics")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
