namespace CrewPlatform.Scheduler.Scheduling;

/// <summary>The schedule's arithmetic: exact spacing in whole minutes, no cron, so 7, 45, 90 or 1440 all work.</summary>
public static class ScheduleMath
{
    /// <summary>
    /// The due time after <paramref name="due"/> has fired at <paramref name="now"/>: <c>due + interval</c> when on time.
    /// After downtime across several due times the missed ones are not replayed: the next due time is the first
    /// <c>due + k * interval</c> strictly after now, which keeps the schedule's phase (a daily 02:00 run stays at 02:00).
    /// </summary>
    public static DateTimeOffset NextDueAfter(DateTimeOffset due, int intervalMinutes, DateTimeOffset now)
    {
        var interval = TimeSpan.FromMinutes(intervalMinutes);
        var next = due + interval;
        if (next > now)
        {
            return next;
        }

        var elapsedIntervals = (now - due).Ticks / interval.Ticks;
        return due + (interval * (elapsedIntervals + 1));
    }

    /// <summary>Midnight UTC of <paramref name="now"/>'s day: where a daily budget and <c>spentToday</c> start.</summary>
    public static DateTimeOffset StartOfUtcDay(DateTimeOffset now) => new(now.UtcDateTime.Date, TimeSpan.Zero);

    /// <summary>The first of <paramref name="now"/>'s month, midnight UTC: where <c>spentThisMonth</c> starts.</summary>
    public static DateTimeOffset StartOfUtcMonth(DateTimeOffset now) => new(now.UtcDateTime.Year, now.UtcDateTime.Month, 1, 0, 0, 0, TimeSpan.Zero);
}
