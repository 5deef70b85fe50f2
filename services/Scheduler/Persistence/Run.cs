namespace CrewPlatform.Scheduler.Persistence;

public static class RunTrigger
{
    public const string Schedule = "schedule";
    public const string Manual = "manual";
}

public static class RunStatus
{
    public const string Running = "running";
    public const string Completed = "completed";

    /// <summary>A due time that found the previous run still going (overlap policy <c>skip</c>).</summary>
    public const string Skipped = "skipped";

    /// <summary>The run row was written but its first page could not be published, so nothing will ever happen in it.</summary>
    public const string Failed = "failed";
}

/// <summary>One crew run over the users table: a due time of the schedule or a manual run-now.</summary>
public sealed class Run
{
    public Guid Id { get; set; }
    public string Trigger { get; set; } = RunTrigger.Manual;

    /// <summary>The due time the schedule claimed; null for manual runs.</summary>
    public DateTimeOffset? DueAt { get; set; }

    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }
    public string Status { get; set; } = RunStatus.Running;
    public int Dispatched { get; set; }
    public int Succeeded { get; set; }
    public int Failed { get; set; }
    public int Skipped { get; set; }

    /// <summary>The last page of users has been read; the run completes once every dispatched user has an outcome.</summary>
    public bool FanOutCompleted { get; set; }
}
