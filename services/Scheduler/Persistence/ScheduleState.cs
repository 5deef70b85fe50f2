namespace CrewPlatform.Scheduler.Persistence;

/// <summary>The one schedule every replica shares (a single row, id 1).</summary>
public sealed class ScheduleState
{
    public const int SingletonId = 1;

    public int Id { get; set; } = SingletonId;
    public bool IsRunning { get; set; }
    public int IntervalMinutes { get; set; }

    /// <summary>When the next run is due; null while stopped.</summary>
    public DateTimeOffset? NextDueAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}
