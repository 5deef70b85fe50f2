using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Scheduling;
using Microsoft.EntityFrameworkCore;

namespace CrewPlatform.Scheduler.Apis;

public sealed record RunSummary(
    Guid Id, string Status, string Trigger, DateTimeOffset? DueAt, DateTimeOffset StartedAt, DateTimeOffset? CompletedAt,
    int Dispatched, int Succeeded, int Failed, int Skipped, int? ScheduleId, string? Segment, string Endpoint, string Priority,
    int Cancelled, decimal Spent, string Currency, bool BudgetExhausted, DateTimeOffset? CancelRequestedAt,
    int? MaxCallsPerRun, decimal? MaxSpendPerRun, decimal? MaxSpendPerDay, string? SkipReason, int Unchanged, SkipUnchanged? SkipUnchanged);

public sealed record FailedUser(string UserUid, string? Reason);

public sealed record SkippedUser(string UserUid, string Reason);

public sealed record RunDetails(
    Guid Id, string Status, string Trigger, DateTimeOffset? DueAt, DateTimeOffset StartedAt, DateTimeOffset? CompletedAt,
    int Dispatched, int Succeeded, int Failed, int Skipped, bool FanOutCompleted, IReadOnlyList<FailedUser> FailedUsers,
    int? ScheduleId, string? Segment, string Endpoint, string Priority,
    int Cancelled, decimal Spent, string Currency, bool BudgetExhausted, DateTimeOffset? CancelRequestedAt,
    int? MaxCallsPerRun, decimal? MaxSpendPerRun, decimal? MaxSpendPerDay, string? SkipReason, IReadOnlyList<SkippedUser> SkippedUsers,
    int Unchanged, SkipUnchanged? SkipUnchanged);

/// <summary>What a schedule's runs spent today and this month (UTC), and whether a budget ran out today.</summary>
public sealed record ScheduleSpend(decimal Today, decimal ThisMonth, bool BudgetExhaustedToday)
{
    public static readonly ScheduleSpend None = new(0, 0, false);
}

/// <summary>Runs as the APIs show them: newest first, and each schedule's last run.</summary>
public static class RunViews
{
    public static IQueryable<RunSummary> NewestFirst(IQueryable<Run> runs, string currency) =>
        runs.OrderByDescending(r => r.StartedAt).ThenByDescending(r => r.Id)
            .Select(r => new RunSummary(
                r.Id, r.Status, r.Trigger, r.DueAt, r.StartedAt, r.CompletedAt, r.Dispatched, r.Succeeded, r.Failed, r.Skipped,
                r.ScheduleId, r.Segment, r.Endpoint, r.Priority,
                r.Cancelled, r.Spent, currency, r.BudgetExhausted, r.CancelRequestedAt, r.MaxCallsPerRun, r.MaxSpendPerRun, r.MaxSpendPerDay, r.SkipReason,
                r.Unchanged, r.SkipUnchangedForMinutes == null ? null : new SkipUnchanged(r.SkipUnchangedForMinutes.Value)));

    /// <summary>The last run of each of the schedules that has one, in one query (the (schedule_id, started_at) index serves it).</summary>
    public static async Task<IReadOnlyDictionary<int, RunSummary>> LastRunsAsync(
        SchedulerDbContext db, IReadOnlyCollection<int> scheduleIds, string currency, CancellationToken cancellationToken)
    {
        var lastRunIds = db.Runs
            .Where(r => r.ScheduleId != null && scheduleIds.Contains(r.ScheduleId.Value))
            .GroupBy(r => r.ScheduleId)
            .Select(schedule => schedule.OrderByDescending(r => r.StartedAt).ThenByDescending(r => r.Id).Select(r => r.Id).First());
        var lastRuns = await NewestFirst(db.Runs.AsNoTracking().Where(r => lastRunIds.Contains(r.Id)), currency).ToListAsync(cancellationToken);
        return lastRuns.ToDictionary(r => r.ScheduleId!.Value);
    }

    /// <summary>
    /// Each schedule's spend today and this month, in one query over this month's runs (a range of the
    /// (schedule_id, started_at) index, which includes spent). A budget ran out today when one of today's runs ran out
    /// of its budget, or today's spend reached the daily budget.
    /// </summary>
    public static async Task<IReadOnlyDictionary<int, ScheduleSpend>> SpendAsync(
        SchedulerDbContext db, IReadOnlyCollection<ScheduleState> schedules, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var ids = schedules.Select(s => s.Id).ToList();
        var (today, month) = (ScheduleMath.StartOfUtcDay(now), ScheduleMath.StartOfUtcMonth(now));
        var sums = await db.Runs.AsNoTracking()
            .Where(r => r.ScheduleId != null && ids.Contains(r.ScheduleId.Value) && r.StartedAt >= month)
            .GroupBy(r => r.ScheduleId!.Value)
            .Select(g => new
            {
                Id = g.Key,
                Today = g.Where(r => r.StartedAt >= today).Sum(r => r.Spent),
                Month = g.Sum(r => r.Spent),
                ExhaustedToday = g.Any(r => r.StartedAt >= today && (r.BudgetExhausted || r.SkipReason == RunSkipReason.Budget)),
            })
            .ToDictionaryAsync(s => s.Id, cancellationToken);
        return schedules.ToDictionary(s => s.Id, s => sums.TryGetValue(s.Id, out var sum)
            ? new ScheduleSpend(sum.Today, sum.Month, sum.ExhaustedToday || sum.Today >= s.MaxSpendPerDay)
            : ScheduleSpend.None with { BudgetExhaustedToday = s.MaxSpendPerDay == 0 });
    }

    public static async Task<RunSummary?> LastRunAsync(SchedulerDbContext db, int scheduleId, string currency, CancellationToken cancellationToken) =>
        (await LastRunsAsync(db, [scheduleId], currency, cancellationToken)).GetValueOrDefault(scheduleId);
}
