using Cronos;

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

/// <summary>
/// When a schedule is due: every <c>intervalMinutes</c>, or at the times a cron expression gives in a time zone. The one
/// answer to "what is the next due time" for both kinds; the due-time machinery around it (the claim, overlap, budgets,
/// catch-up) is the same for both. Cron times follow Cronos's daylight-saving rules: a time that does not exist on a
/// spring-forward day is due once at the next valid instant, a time that occurs twice on a fall-back day is due once.
/// </summary>
public sealed class ScheduleCadence
{
    public const string Utc = "UTC";

    /// <summary>The most due times a catch-up of <c>none</c> records as missed at one claim; older ones are only counted in the log.</summary>
    public const int MaxMissedRecorded = 100;

    private readonly int intervalMinutes;
    private readonly CronExpression? cron;

    private ScheduleCadence(int intervalMinutes, CronExpression? cron, TimeZoneInfo zone)
    {
        this.intervalMinutes = intervalMinutes;
        this.cron = cron;
        Zone = zone;
    }

    public TimeZoneInfo Zone { get; }

    public static ScheduleCadence Every(int intervalMinutes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(intervalMinutes, 1);
        return new ScheduleCadence(intervalMinutes, null, TimeZoneInfo.Utc);
    }

    /// <summary>A cron cadence; throws <see cref="FormatException"/> (<see cref="CronFormatException"/>) or <see cref="TimeZoneNotFoundException"/> on bad input.</summary>
    public static ScheduleCadence Calendar(string cron, string? timeZone) =>
        new(0, ParseCron(cron), FindZone(timeZone ?? Utc));

    /// <summary>The schedule's cadence as stored: its cron and time zone when it has a cron, else its interval.</summary>
    public static ScheduleCadence Of(Persistence.ScheduleState schedule) =>
        schedule.Cron is { } cron ? Calendar(cron, schedule.TimeZone) : Every(schedule.IntervalMinutes);

    /// <summary>Five fields (minute precision) or six (the first is seconds).</summary>
    public static CronExpression ParseCron(string cron) =>
        CronExpression.Parse(cron, cron.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard);

    /// <summary>An IANA time-zone id (<c>Europe/Paris</c>) as the system's time-zone database knows it.</summary>
    public static TimeZoneInfo FindZone(string timeZone) =>
        string.Equals(timeZone, Utc, StringComparison.Ordinal) ? TimeZoneInfo.Utc : TimeZoneInfo.FindSystemTimeZoneById(timeZone);

    /// <summary>The first due time strictly after <paramref name="from"/>, in UTC (as the database stores it); null for a cron expression that never occurs again (30 February).</summary>
    public DateTimeOffset? After(DateTimeOffset from) =>
        cron is null ? from.AddMinutes(intervalMinutes) : cron.GetNextOccurrence(from.ToUniversalTime(), Zone)?.ToUniversalTime();

    /// <summary>
    /// The due time after <paramref name="due"/> has fired at <paramref name="now"/>: the first one strictly after now,
    /// so a catch-up after downtime is one run, never a replay (an interval keeps its phase, as <see cref="ScheduleMath.NextDueAfter"/>).
    /// </summary>
    public DateTimeOffset? NextDueAfter(DateTimeOffset due, DateTimeOffset now) =>
        cron is null ? ScheduleMath.NextDueAfter(due, intervalMinutes, now) : cron.GetNextOccurrence(Max(due, now).ToUniversalTime(), Zone)?.ToUniversalTime();

    /// <summary>The due times from <paramref name="due"/> (included) up to <paramref name="until"/> (included), at most <paramref name="limit"/>.</summary>
    public List<DateTimeOffset> DueTimes(DateTimeOffset due, DateTimeOffset until, int limit)
    {
        var times = new List<DateTimeOffset>();
        for (DateTimeOffset? at = due; at is { } time && time <= until && times.Count < limit; at = After(time))
        {
            times.Add(time);
        }

        return times;
    }

    /// <summary>The next <paramref name="count"/> due times from <paramref name="first"/> (the schedule's next due time) on.</summary>
    public List<DateTimeOffset> Upcoming(DateTimeOffset first, int count) => DueTimes(first, DateTimeOffset.MaxValue, count);

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}
