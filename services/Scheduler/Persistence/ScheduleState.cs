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
    public int IntervalMinutes { get; set; }

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
