using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Runs;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Scheduler.Scheduling;

public enum TickOutcome
{
    /// <summary>Stopped, not due yet, or another replica claimed this due time first.</summary>
    NothingDue,

    /// <summary>This replica claimed the due time and started a run.</summary>
    RunStarted,

    /// <summary>This replica claimed the due time, found the previous run still going and recorded a skip.</summary>
    RunSkipped,
}

/// <summary>
/// The persisted schedule shared by every replica: start, stop and the tick that turns a due time into a run.
/// Plain class (no Coravel types) so tests drive it directly with a fake clock.
/// </summary>
public sealed partial class ScheduleService(
    SchedulerDbContext db,
    RunStarter runStarter,
    IOptions<SchedulerOptions> options,
    TimeProvider time,
    ILogger<ScheduleService> logger)
{
    private readonly SchedulerOptions settings = options.Value;

    /// <summary>The schedule, created from the settings on the very first call of a fresh install.</summary>
    public async Task<ScheduleState> GetAsync(CancellationToken cancellationToken)
    {
        await EnsureAsync(cancellationToken);
        return await db.Schedule.AsNoTracking().SingleAsync(cancellationToken);
    }

    /// <summary>Starts the schedule, or changes the interval of a running one (the next run is then one new interval away).</summary>
    public async Task<ScheduleState> StartAsync(int intervalMinutes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(intervalMinutes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(intervalMinutes, SchedulerOptions.MaxIntervalMinutes);
        await EnsureAsync(cancellationToken);

        var now = time.GetUtcNow();
        DateTimeOffset? restartedDue = now.AddMinutes(intervalMinutes);

        // Starting an already running schedule with the same interval keeps its due time, so a repeated
        // start (a retrying client, a deploy script) does not push the next run back.
        await db.Schedule.Where(s => s.Id == ScheduleState.SingletonId).ExecuteUpdateAsync(s => s
            .SetProperty(x => x.NextDueAt, x => x.IsRunning && x.IntervalMinutes == intervalMinutes && x.NextDueAt != null ? x.NextDueAt : restartedDue)
            .SetProperty(x => x.IsRunning, true)
            .SetProperty(x => x.IntervalMinutes, intervalMinutes)
            .SetProperty(x => x.UpdatedAt, now), cancellationToken);

        var state = await db.Schedule.AsNoTracking().SingleAsync(cancellationToken);
        LogStarted(logger, state.IntervalMinutes, state.NextDueAt);
        return state;
    }

    public async Task<ScheduleState> StopAsync(CancellationToken cancellationToken)
    {
        await EnsureAsync(cancellationToken);
        var now = time.GetUtcNow();
        await db.Schedule.Where(s => s.Id == ScheduleState.SingletonId).ExecuteUpdateAsync(s => s
            .SetProperty(x => x.IsRunning, false)
            .SetProperty(x => x.NextDueAt, (DateTimeOffset?)null)
            .SetProperty(x => x.UpdatedAt, now), cancellationToken);
        LogStopped(logger);
        return await db.Schedule.AsNoTracking().SingleAsync(cancellationToken);
    }

    /// <summary>
    /// Fires the due time if there is one. The claim is one conditional UPDATE that moves <c>next_due_at</c> from the
    /// value this replica read to the next one: of several replicas reading the same due time, the first to update
    /// wins, and the others' UPDATE then matches no row (PostgreSQL re-checks the WHERE against the committed row).
    /// The run row is written in the same transaction as the claim, so a due time is never claimed without its run.
    /// </summary>
    public async Task<TickOutcome> TickAsync(CancellationToken cancellationToken)
    {
        var observed = await GetAsync(cancellationToken);
        var now = time.GetUtcNow();
        if (!observed.IsRunning || observed.NextDueAt is not { } due || due > now)
        {
            return TickOutcome.NothingDue;
        }

        var next = ScheduleMath.NextDueAfter(due, observed.IntervalMinutes, now);
        var interval = observed.IntervalMinutes;

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var claimed = await db.Schedule
            .Where(s => s.Id == ScheduleState.SingletonId && s.IsRunning && s.IntervalMinutes == interval
                        && s.NextDueAt == due && s.NextDueAt <= now)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.NextDueAt, next).SetProperty(x => x.UpdatedAt, now), cancellationToken);
        if (claimed == 0)
        {
            return TickOutcome.NothingDue;
        }

        // Measured from the last progress, not the start: a long run that keeps recording outcomes still blocks,
        // one whose outcomes were lost or parked stops blocking after the stale limit.
        var staleBefore = now.AddMinutes(-settings.RunStaleAfterMinutes);
        if (settings.Overlap == OverlapPolicy.Skip
            && await db.Runs.AnyAsync(r => r.Status == RunStatus.Running && r.LastProgressAt > staleBefore, cancellationToken))
        {
            var skipped = runStarter.NewRun(RunTrigger.Schedule, due, RunStatus.Skipped);
            db.Runs.Add(skipped);
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            LogSkipped(logger, due, skipped.Id, next);
            return TickOutcome.RunSkipped;
        }

        var run = runStarter.NewRun(RunTrigger.Schedule, due, RunStatus.Running);
        db.Runs.Add(run);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        LogFired(logger, due, run.Id, next);

        await runStarter.PublishFirstPageAsync(run, cancellationToken);
        return TickOutcome.RunStarted;
    }

    // INSERT .. ON CONFLICT DO NOTHING: replicas starting together agree on one row, and an existing row (the
    // state an operator set) is never overwritten by this replica's environment.
    private async Task EnsureAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var interval = settings.InitialIntervalMinutes;
        var running = settings.Autostart;
        DateTimeOffset? nextDue = running ? now.AddMinutes(interval) : null;
        // Raw SQL: EF has no INSERT .. ON CONFLICT DO NOTHING.
        await db.Database.ExecuteSqlAsync(
            $"""
            INSERT INTO scheduler.schedule (id, is_running, interval_minutes, next_due_at, updated_at)
            VALUES ({ScheduleState.SingletonId}, {running}, {interval}, {nextDue}, {now})
            ON CONFLICT (id) DO NOTHING
            """,
            cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Scheduler started with interval {IntervalMinutes} min, next run due at {NextDueAt}")]
    private static partial void LogStarted(ILogger logger, int intervalMinutes, DateTimeOffset? nextDueAt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Scheduler stopped")]
    private static partial void LogStopped(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Due time {DueAt} claimed: run {RunId} started, next due at {NextDueAt}")]
    private static partial void LogFired(ILogger logger, DateTimeOffset dueAt, Guid runId, DateTimeOffset nextDueAt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Due time {DueAt} skipped as run {RunId}: the previous run has not completed; next due at {NextDueAt}")]
    private static partial void LogSkipped(ILogger logger, DateTimeOffset dueAt, Guid runId, DateTimeOffset nextDueAt);
}
