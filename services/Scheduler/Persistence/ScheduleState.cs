using CrewPlatform.Contracts;

namespace CrewPlatform.Scheduler.Persistence;

/// <summary>
/// One schedule every replica shares: a segment of users, called on one crew endpoint at one priority, every
/// interval. Id 1 is the default schedule (every user, the default endpoint) that <c>/api/scheduler</c> acts on.
/// </summary>
public sealed class ScheduleState
{
    public const int DefaultId = 1;
    public const string DefaultName = "default";
    public const int MaxPauseNoteLength = 500;

    public int Id { get; set; }
    public string Name { get; set; } = DefaultName;
    public bool IsRunning { get; set; }
    /// <summary>Minutes between due times; 0 on a cron schedule (<see cref="Cron"/>).</summary>
    public int IntervalMinutes { get; set; }

    /// <summary>A cron expression (five fields, or six with seconds first) in <see cref="TimeZone"/>; null on an interval schedule.</summary>
    public string? Cron { get; set; }

    /// <summary>The IANA time zone the cron expression is read in; null on an interval schedule.</summary>
    public string? TimeZone { get; set; }

    /// <summary><c>one</c> (after downtime across due times, one run) or <c>none</c> (missed due times start no run, each recorded as a skipped run).</summary>
    public string CatchUp { get; set; } = CatchUpPolicy.One;

    /// <summary>When the next run is due; null while stopped.</summary>
    public DateTimeOffset? NextDueAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>A configured segment's name, or <c>all</c>.</summary>
    public string Segment { get; set; } = SegmentDefinition.All;

    /// <summary>A configured crew endpoint's name, or <c>default</c>.</summary>
    public string Endpoint { get; set; } = CrewEndpointNames.Default;

    /// <summary><c>high</c> or <c>normal</c>.</summary>
    public string Priority { get; set; } = CrewPriority.Normal;

    /// <summary><c>skip</c> or <c>allow</c>; null on the default schedule, which follows <c>CREW_SCHEDULER_OVERLAP</c>.</summary>
    public string? Overlap { get; set; }

    /// <summary>Each run of the schedule makes at most this many calls; null: no limit.</summary>
    public int? MaxCallsPerRun { get; set; }

    /// <summary>Each run of the schedule spends at most this much; null: no limit.</summary>
    public decimal? MaxSpendPerRun { get; set; }

    /// <summary>The schedule's runs skip users whose latest answer is younger than this many minutes and came from the same input; null: none is skipped.</summary>
    public int? SkipUnchangedForMinutes { get; set; }

    /// <summary>The schedule's runs spend at most this much per UTC day; once spent, due times are skipped until the day turns.</summary>
    public decimal? MaxSpendPerDay { get; set; }

    /// <summary>Why the schedule was paused, as the operator wrote it; null when running or paused without a note.</summary>
    public string? PauseNote { get; set; }

    /// <summary>Who paused it (the gateway's <see cref="ServiceDefaults.CrewActor"/>); null when running or not known.</summary>
    public string? PausedBy { get; set; }

    /// <summary>When it was paused; null when running (and on schedules paused before pauses were recorded).</summary>
    public DateTimeOffset? PausedAt { get; set; }

    /// <summary>When the tick resumes it by itself; null: paused until an operator resumes it.</summary>
    public DateTimeOffset? PausedUntil { get; set; }
}

/// <summary>What a schedule does with due times that passed while no replica was ticking.</summary>
public static class CatchUpPolicy
{
    /// <summary>One run for all of them (the latest), then on at the cadence.</summary>
    public const string One = "one";

    /// <summary>No run; each is recorded as a skipped run with reason <c>missed</c>.</summary>
    public const string None = "none";

    public static readonly string[] All = [One, None];
}
