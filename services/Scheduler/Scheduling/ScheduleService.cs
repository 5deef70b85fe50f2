using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Runs;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.ServiceDefaults.Audit;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Query;
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

/// <summary>A pause's note, end and actor (the gateway's <see cref="CrewActor"/>); all optional.</summary>
public sealed record SchedulePause(string? Note, DateTimeOffset? Until, string? By);

/// <summary>
/// The persisted schedule shared by every replica: start, stop and the tick that turns a due time into a run.
/// Plain class (no Coravel types) so tests drive it directly with a fake clock.
/// </summary>
public sealed partial class ScheduleService(
    SchedulerDbContext db,
    RunStarter runStarter,
    IOptions<SchedulerOptions> options,
    TimeProvider time,
    SchedulerMetrics metrics,
    AuditTrail audit,
    ILogger<ScheduleService> logger)
{
    /// <summary>
    /// How late past the tick a due time may be claimed and still run under catch-up <c>none</c>: one claimed more than
    /// <c>CREW_SCHEDULER_TICK_SECONDS</c> plus this after it was missed (no replica was ticking then).
    /// </summary>
    public static readonly TimeSpan MissedGrace = TimeSpan.FromMinutes(1);

    private readonly SchedulerOptions settings = options.Value;

    /// <summary>The default schedule, created from the settings on the very first call of a fresh install.</summary>
    public Task<ScheduleState> GetAsync(CancellationToken cancellationToken) => GetAsync(ScheduleState.DefaultId, cancellationToken)!;

    /// <summary>A schedule by id, or null; the default one always exists.</summary>
    public async Task<ScheduleState?> GetAsync(int id, CancellationToken cancellationToken)
    {
        await EnsureAsync(cancellationToken);
        return await db.Schedule.AsNoTracking().SingleOrDefaultAsync(s => s.Id == id, cancellationToken);
    }

    /// <summary>Every schedule, the default one first.</summary>
    public async Task<List<ScheduleState>> ListAsync(CancellationToken cancellationToken)
    {
        await EnsureAsync(cancellationToken);
        return await db.Schedule.AsNoTracking().OrderBy(s => s.Id).ToListAsync(cancellationToken);
    }

    /// <summary>Starts the default schedule, or changes the interval of a running one (the next run is then one new interval away).</summary>
    public Task<ScheduleState> StartAsync(int intervalMinutes, CancellationToken cancellationToken) =>
        StartAsync(ScheduleState.DefaultId, intervalMinutes, cancellationToken)!;

    /// <summary>
    /// Starts (resumes) a schedule at an interval, which makes a cron schedule an interval one; an interval of 0 (what a
    /// cron schedule stores) starts it at its own cadence, its cron's next time. Null when there is no such schedule.
    /// </summary>
    public async Task<ScheduleState?> StartAsync(int id, int intervalMinutes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(intervalMinutes, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(intervalMinutes, SchedulerOptions.MaxIntervalMinutes);
        await EnsureAsync(cancellationToken);

        var now = time.GetUtcNow();
        if (intervalMinutes == 0)
        {
            await StartAtCronAsync(id, now, cancellationToken);
        }
        else
        {
            DateTimeOffset? restartedDue = now.AddMinutes(intervalMinutes);

            // Starting an already running schedule with the same interval keeps its due time, so a repeated
            // start (a retrying client, a deploy script) does not push the next run back.
            await db.Schedule.Where(s => s.Id == id).ExecuteUpdateAsync(s => s
                .SetProperty(
                    x => x.NextDueAt,
                    x => x.IsRunning && x.Cron == null && x.IntervalMinutes == intervalMinutes && x.NextDueAt != null ? x.NextDueAt : restartedDue)
                .SetProperty(x => x.IsRunning, true)
                .SetProperty(x => x.IntervalMinutes, intervalMinutes)
                .SetProperty(x => x.Cron, (string?)null)
                .SetProperty(x => x.TimeZone, (string?)null)
                .ClearPause()
                .SetProperty(x => x.UpdatedAt, now), cancellationToken);
        }

        var state = await db.Schedule.AsNoTracking().SingleOrDefaultAsync(s => s.Id == id, cancellationToken);
        if (state is not null)
        {
            LogStarted(logger, state.Name, CadenceText(state), state.NextDueAt);
        }

        return state;
    }

    // A running cron schedule keeps its due time; a stopped one is next due at its cron's next time. The UPDATE is
    // conditional on the cron this replica read, so a concurrent change of the cron is not overwritten with a stale time.
    private async Task StartAtCronAsync(int id, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var current = await db.Schedule.AsNoTracking().SingleOrDefaultAsync(s => s.Id == id, cancellationToken);
        if (current?.Cron is not { } cron)
        {
            return;
        }

        var zone = current.TimeZone;
        var restartedDue = ScheduleCadence.Of(current).After(now);
        await db.Schedule.Where(s => s.Id == id && s.Cron == cron && s.TimeZone == zone).ExecuteUpdateAsync(s => s
            .SetProperty(x => x.NextDueAt, x => x.IsRunning && x.NextDueAt != null ? x.NextDueAt : restartedDue)
            .SetProperty(x => x.IsRunning, true)
            .ClearPause()
            .SetProperty(x => x.UpdatedAt, now), cancellationToken);
    }

    /// <summary>Stops the default schedule: a pause without a note or an end (<c>POST /api/scheduler {"action":"stop"}</c>).</summary>
    public Task<ScheduleState> StopAsync(string? actor, CancellationToken cancellationToken) =>
        StopAsync(ScheduleState.DefaultId, new SchedulePause(null, null, actor), cancellationToken)!;

    /// <summary>
    /// Stops (pauses) a schedule, recording why, until when and who: a pause of a paused schedule replaces them (a
    /// longer or shorter pause, another note). Null when there is no such schedule.
    /// </summary>
    public async Task<ScheduleState?> StopAsync(int id, SchedulePause pause, CancellationToken cancellationToken)
    {
        await EnsureAsync(cancellationToken);
        var now = time.GetUtcNow();
        await db.Schedule.Where(s => s.Id == id).ExecuteUpdateAsync(s => s
            .SetProperty(x => x.IsRunning, false)
            .SetProperty(x => x.NextDueAt, (DateTimeOffset?)null)
            .SetProperty(x => x.PauseNote, pause.Note)
            .SetProperty(x => x.PausedBy, pause.By)
            .SetProperty(x => x.PausedAt, now)
            .SetProperty(x => x.PausedUntil, pause.Until)
            .SetProperty(x => x.UpdatedAt, now), cancellationToken);
        var state = await db.Schedule.AsNoTracking().SingleOrDefaultAsync(s => s.Id == id, cancellationToken);
        if (state is not null)
        {
            LogStopped(logger, state.Name, state.PausedBy ?? "an unknown actor", state.PausedUntil);
        }

        return state;
    }

    /// <summary>
    /// Resumes every paused schedule whose <c>paused_until</c> has come, as a manual resume would (<see cref="StartAsync(int, int, CancellationToken)"/>:
    /// next due one interval from now, the pause's fields cleared). The claim is a conditional UPDATE that clears
    /// <c>paused_until</c> only while it still holds the time this replica read and that time has come, in one
    /// transaction with the resume: of replicas racing for the same pause, one resumes it and the others' UPDATE
    /// matches no row (PostgreSQL re-checks the WHERE against the committed row). Returns how many it resumed.
    /// </summary>
    public async Task<int> ResumeDueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var due = await db.Schedule.AsNoTracking()
            .Where(s => !s.IsRunning && s.PausedUntil != null && s.PausedUntil <= now)
            .Select(s => new { s.Id, s.Name, s.IntervalMinutes, s.PausedUntil, s.PausedBy })
            .ToListAsync(cancellationToken);
        var resumed = 0;
        foreach (var pause in due)
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var claimed = await db.Schedule
                .Where(s => s.Id == pause.Id && !s.IsRunning && s.PausedUntil == pause.PausedUntil && s.PausedUntil <= now)
                .ExecuteUpdateAsync(s => s.SetProperty(x => x.PausedUntil, (DateTimeOffset?)null), cancellationToken);
            if (claimed == 0)
            {
                continue;
            }

            await StartAsync(pause.Id, pause.IntervalMinutes, cancellationToken);
            await audit.RecordAsync(db, AuditActors.Scheduler, AuditActions.ScheduleResume, AuditTargets.Schedule(pause.Id),
                new { pause.PausedUntil, pause.PausedBy }, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            LogPauseEnded(logger, pause.Name, pause.Id, pause.PausedUntil!.Value, pause.PausedBy ?? "an unknown actor");
            resumed++;
        }

        return resumed;
    }

    /// <summary>Adds a schedule; running ones are first due one interval from now, or at their cron's next time. Null when the name is taken.</summary>
    public async Task<ScheduleState?> CreateAsync(ScheduleState schedule, CancellationToken cancellationToken)
    {
        await EnsureAsync(cancellationToken);
        var now = time.GetUtcNow();
        schedule.Id = 0;
        schedule.UpdatedAt = now;
        schedule.NextDueAt = schedule.IsRunning ? ScheduleCadence.Of(schedule).After(now) : null;
        db.Schedule.Add(schedule);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
        {
            return null;
        }

        LogCreated(logger, schedule.Name, schedule.Id, schedule.Segment, schedule.Endpoint, CadenceText(schedule), schedule.Priority);
        return schedule;
    }

    /// <summary>
    /// Changes a schedule's segment, endpoint, overlap, priority and catch-up (taking effect from its next run) and its
    /// cadence: a new interval, cron or time zone (also interval to cron and back) makes a running schedule next due one
    /// new interval from now, or at the new cron's next time.
    /// </summary>
    public async Task<ScheduleState?> ChangeAsync(int id, Action<ScheduleState> change, CancellationToken cancellationToken)
    {
        await EnsureAsync(cancellationToken);
        var schedule = await db.Schedule.SingleOrDefaultAsync(s => s.Id == id, cancellationToken);
        if (schedule is null)
        {
            return null;
        }

        var cadence = (schedule.IntervalMinutes, schedule.Cron, schedule.TimeZone);
        change(schedule);
        var now = time.GetUtcNow();
        if (schedule.IsRunning && (schedule.IntervalMinutes, schedule.Cron, schedule.TimeZone) != cadence)
        {
            schedule.NextDueAt = ScheduleCadence.Of(schedule).After(now);
        }

        schedule.UpdatedAt = now;
        await db.SaveChangesAsync(cancellationToken);
        return schedule;
    }

    /// <summary>Deletes a schedule (its runs stay, with their schedule id); the default schedule cannot be deleted.</summary>
    public async Task<bool> DeleteAsync(int id, CancellationToken cancellationToken)
    {
        var deleted = await db.Schedule.Where(s => s.Id == id && s.Id != ScheduleState.DefaultId).ExecuteDeleteAsync(cancellationToken);
        return deleted == 1;
    }

    /// <summary>
    /// Fires every schedule's due time, if it has one; the outcome is the most any schedule did (a run started beats
    /// a skip beats nothing).
    /// </summary>
    public async Task<TickOutcome> TickAsync(CancellationToken cancellationToken)
    {
        await EnsureAsync(cancellationToken);
        await ResumeDueAsync(cancellationToken);
        var now = time.GetUtcNow();
        var due = await db.Schedule.AsNoTracking()
            .Where(s => s.IsRunning && s.NextDueAt != null && s.NextDueAt <= now)
            .OrderBy(s => s.NextDueAt).ThenBy(s => s.Id)
            .ToListAsync(cancellationToken);
        var outcome = TickOutcome.NothingDue;
        foreach (var schedule in due)
        {
            var fired = await TickAsync(schedule, cancellationToken);
            outcome = outcome == TickOutcome.RunStarted || fired == TickOutcome.NothingDue ? outcome : fired;
        }

        return outcome;
    }

    /// <summary>
    /// Fires one schedule's due time. The claim is one conditional UPDATE that moves <c>next_due_at</c> from the
    /// value this replica read to the next one: of several replicas reading the same due time, the first to update
    /// wins, and the others' UPDATE then matches no row (PostgreSQL re-checks the WHERE against the committed row).
    /// The run row is written in the same transaction as the claim, so a due time is never claimed without its run.
    /// </summary>
    private async Task<TickOutcome> TickAsync(ScheduleState observed, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (observed.NextDueAt is not { } due)
        {
            return TickOutcome.NothingDue;
        }

        var cadence = ScheduleCadence.Of(observed);
        var next = cadence.NextDueAfter(due, now);
        var interval = observed.IntervalMinutes;
        var cron = observed.Cron;
        var zone = observed.TimeZone;
        var id = observed.Id;

        // The claim also matches the cadence this replica computed the next due time from: a concurrent change of
        // the interval, cron or time zone makes it match no row, and the next tick reads the new cadence.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var claimed = await db.Schedule
            .Where(s => s.Id == id && s.IsRunning && s.IntervalMinutes == interval && s.Cron == cron && s.TimeZone == zone
                        && s.NextDueAt == due && s.NextDueAt <= now)
            .ExecuteUpdateAsync(s => s.SetProperty(x => x.NextDueAt, next).SetProperty(x => x.UpdatedAt, now), cancellationToken);
        if (claimed == 0)
        {
            return TickOutcome.NothingDue;
        }

        // Catch-up none: every due time from the claimed one on that is older than the tick plus the grace was missed
        // (no replica was ticking then): each is recorded as a skipped run, in the claim's transaction. A due time still
        // within the grace (the latest, after a short stall) goes on as usual below.
        List<Run> missed = [];
        if (observed.CatchUp == CatchUpPolicy.None)
        {
            var missedBefore = now - TimeSpan.FromSeconds(settings.TickSeconds) - MissedGrace;
            missed = cadence.DueTimes(due, missedBefore, ScheduleCadence.MaxMissedRecorded)
                .Select(t => runStarter.NewRun(RunTrigger.Schedule, t, RunStatus.Skipped, RunTarget.Of(observed), RunSkipReason.Missed))
                .ToList();
            if (missed.Count > 0)
            {
                db.Runs.AddRange(missed);
                if (cadence.NextDueAfter(due, missedBefore) is not { } onTime || onTime > now)
                {
                    await db.SaveChangesAsync(cancellationToken);
                    await transaction.CommitAsync(cancellationToken);
                    await PublishMissedAsync(observed, missed, next, cancellationToken);
                    return TickOutcome.RunSkipped;
                }

                due = onTime;
            }
        }

        // Measured from the last progress, not the start: a long run that keeps recording outcomes still blocks,
        // one whose outcomes were lost or parked stops blocking after the stale limit. Only this schedule's runs.
        // A daily budget the schedule's runs of today have spent skips every due time until the UTC day turns.
        var staleBefore = now.AddMinutes(-settings.RunStaleAfterMinutes);
        var skipReason =
            observed.MaxSpendPerDay is { } perDay && await SpentSinceAsync(id, ScheduleMath.StartOfUtcDay(now), cancellationToken) >= perDay
                ? RunSkipReason.Budget
            : OverlapOf(observed) == OverlapPolicy.Skip
              && await db.Runs.AnyAsync(r => r.ScheduleId == id && r.Status == RunStatus.Running && r.LastProgressAt > staleBefore, cancellationToken)
                ? RunSkipReason.Overlap
            : null;
        if (skipReason is not null)
        {
            var skipped = runStarter.NewRun(RunTrigger.Schedule, due, RunStatus.Skipped, RunTarget.Of(observed), skipReason);
            db.Runs.Add(skipped);
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            await PublishMissedAsync(observed, missed, next, cancellationToken);
            LogSkipped(logger, observed.Name, due, skipped.Id, skipReason, next);
            metrics.RunSkipped();
            await runStarter.PublishSkippedAsync(skipped, cancellationToken);
            return TickOutcome.RunSkipped;
        }

        var run = runStarter.NewRun(RunTrigger.Schedule, due, RunStatus.Running, RunTarget.Of(observed));
        using var activity = CrewTracing.Scheduler.StartRunActivity("scheduled run", run.Id);
        activity?.SetTag("crew.schedule_id", id);
        db.Runs.Add(run);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await PublishMissedAsync(observed, missed, next, cancellationToken);
        LogFired(logger, observed.Name, due, run.Id, next);

        await runStarter.PublishFirstPageAsync(run, cancellationToken);
        return TickOutcome.RunStarted;
    }

    // A missed due time is a skipped run like any other: counted, logged and published.
    private async Task PublishMissedAsync(ScheduleState schedule, List<Run> missed, DateTimeOffset? next, CancellationToken cancellationToken)
    {
        foreach (var skipped in missed)
        {
            LogSkipped(logger, schedule.Name, skipped.DueAt ?? skipped.StartedAt, skipped.Id, RunSkipReason.Missed, next);
            metrics.RunSkipped();
            await runStarter.PublishSkippedAsync(skipped, cancellationToken);
        }
    }

    private static string CadenceText(ScheduleState schedule) =>
        schedule.Cron is { } cron ? $"cron '{cron}' in {schedule.TimeZone}" : $"every {schedule.IntervalMinutes} min";

    /// <summary>What the schedule's runs started since <paramref name="since"/> have spent (the (schedule_id, started_at) index, spent included, serves it).</summary>
    public Task<decimal> SpentSinceAsync(int scheduleId, DateTimeOffset since, CancellationToken cancellationToken) =>
        db.Runs.Where(r => r.ScheduleId == scheduleId && r.StartedAt >= since).SumAsync(r => r.Spent, cancellationToken);

    /// <summary>The schedule's own overlap policy; the default schedule's is <c>CREW_SCHEDULER_OVERLAP</c> unless set.</summary>
    public OverlapPolicy OverlapOf(ScheduleState schedule) =>
        Enum.TryParse<OverlapPolicy>(schedule.Overlap, ignoreCase: true, out var policy) ? policy : settings.Overlap;

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
            INSERT INTO scheduler.schedule (id, name, is_running, interval_minutes, next_due_at, updated_at)
            VALUES ({ScheduleState.DefaultId}, {ScheduleState.DefaultName}, {running}, {interval}, {nextDue}, {now})
            ON CONFLICT DO NOTHING
            """,
            cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Schedule {Schedule} started {Cadence}, next run due at {NextDueAt}")]
    private static partial void LogStarted(ILogger logger, string schedule, string cadence, DateTimeOffset? nextDueAt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Schedule {Schedule} paused by {Actor} until {PausedUntil}")]
    private static partial void LogStopped(ILogger logger, string schedule, string actor, DateTimeOffset? pausedUntil);

    [LoggerMessage(Level = LogLevel.Information, Message = "Schedule {Schedule} ({Id}): the pause {Actor} set until {PausedUntil} ended; resumed at its cadence")]
    private static partial void LogPauseEnded(ILogger logger, string schedule, int id, DateTimeOffset pausedUntil, string actor);

    [LoggerMessage(Level = LogLevel.Information, Message = "Schedule {Schedule} ({Id}) created: segment {Segment}, endpoint {Endpoint}, {Cadence}, priority {Priority}")]
    private static partial void LogCreated(ILogger logger, string schedule, int id, string segment, string endpoint, string cadence, string priority);

    [LoggerMessage(Level = LogLevel.Information, Message = "Schedule {Schedule}: due time {DueAt} claimed: run {RunId} started, next due at {NextDueAt}")]
    private static partial void LogFired(ILogger logger, string schedule, DateTimeOffset dueAt, Guid runId, DateTimeOffset? nextDueAt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Schedule {Schedule}: due time {DueAt} skipped as run {RunId} (reason {Reason}: overlap is a previous run not completed, budget the daily budget spent, missed no replica ticking at the time); next due at {NextDueAt}")]
    private static partial void LogSkipped(ILogger logger, string schedule, DateTimeOffset dueAt, Guid runId, string reason, DateTimeOffset? nextDueAt);
}

/// <summary>The setters a start (a resume) shares: it clears what a pause recorded.</summary>
internal static class PauseSetters
{
    /// <summary>No note, no one, no time and no end of a pause: the schedule runs.</summary>
    public static UpdateSettersBuilder<ScheduleState> ClearPause(this UpdateSettersBuilder<ScheduleState> setters) => setters
        .SetProperty(x => x.PauseNote, (string?)null)
        .SetProperty(x => x.PausedBy, (string?)null)
        .SetProperty(x => x.PausedAt, (DateTimeOffset?)null)
        .SetProperty(x => x.PausedUntil, (DateTimeOffset?)null);
}
