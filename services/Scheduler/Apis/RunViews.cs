using CrewPlatform.Scheduler.Persistence;
using Microsoft.EntityFrameworkCore;

namespace CrewPlatform.Scheduler.Apis;

public sealed record RunSummary(
    Guid Id, string Status, string Trigger, DateTimeOffset? DueAt, DateTimeOffset StartedAt, DateTimeOffset? CompletedAt,
    int Dispatched, int Succeeded, int Failed, int Skipped, int? ScheduleId, string? Segment, string Endpoint, string Priority);

public sealed record FailedUser(string UserUid, string? Reason);

public sealed record RunDetails(
    Guid Id, string Status, string Trigger, DateTimeOffset? DueAt, DateTimeOffset StartedAt, DateTimeOffset? CompletedAt,
    int Dispatched, int Succeeded, int Failed, int Skipped, bool FanOutCompleted, IReadOnlyList<FailedUser> FailedUsers,
    int? ScheduleId, string? Segment, string Endpoint, string Priority);

/// <summary>Runs as the APIs show them: newest first, and each schedule's last run.</summary>
public static class RunViews
{
    public static IQueryable<RunSummary> NewestFirst(IQueryable<Run> runs) =>
        runs.OrderByDescending(r => r.StartedAt).ThenByDescending(r => r.Id)
            .Select(r => new RunSummary(
                r.Id, r.Status, r.Trigger, r.DueAt, r.StartedAt, r.CompletedAt, r.Dispatched, r.Succeeded, r.Failed, r.Skipped,
                r.ScheduleId, r.Segment, r.Endpoint, r.Priority));

    /// <summary>The last run of each of the schedules that has one, in one query (the (schedule_id, started_at) index serves it).</summary>
    public static async Task<IReadOnlyDictionary<int, RunSummary>> LastRunsAsync(
        SchedulerDbContext db, IReadOnlyCollection<int> scheduleIds, CancellationToken cancellationToken)
    {
        var lastRunIds = db.Runs
            .Where(r => r.ScheduleId != null && scheduleIds.Contains(r.ScheduleId.Value))
            .GroupBy(r => r.ScheduleId)
            .Select(schedule => schedule.OrderByDescending(r => r.StartedAt).ThenByDescending(r => r.Id).Select(r => r.Id).First());
        var lastRuns = await NewestFirst(db.Runs.AsNoTracking().Where(r => lastRunIds.Contains(r.Id))).ToListAsync(cancellationToken);
        return lastRuns.ToDictionary(r => r.ScheduleId!.Value);
    }

    public static async Task<RunSummary?> LastRunAsync(SchedulerDbContext db, int scheduleId, CancellationToken cancellationToken) =>
        (await LastRunsAsync(db, [scheduleId], cancellationToken)).GetValueOrDefault(scheduleId);
}
