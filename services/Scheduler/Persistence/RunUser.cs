namespace CrewPlatform.Scheduler.Persistence;

public static class RunUserStatus
{
    public const string Dispatched = "dispatched";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";

    /// <summary>Not sent: both context and goal were empty, or (with reason <c>budget</c>) the run's budget ran out.</summary>
    public const string Skipped = "skipped";

    /// <summary>Not called: the run was cancelled first.</summary>
    public const string Cancelled = "cancelled";
}

/// <summary>
/// One user's fate in one run. The primary key (run, user) is what makes every counter of <see cref="Run"/>
/// count each user once, however often a page or an outcome is redelivered.
/// </summary>
public sealed class RunUser
{
    public Guid RunId { get; set; }
    public string UserUid { get; set; } = "";
    public string Status { get; set; } = RunUserStatus.Dispatched;

    /// <summary>Why the crew caller gave up on this user (kept until a replay succeeds), or <c>budget</c> for a user skipped for the run's budget.</summary>
    public string? Reason { get; set; }

    /// <summary>
    /// Moved back from failed by <c>retry-failed</c>: any re-sent command for this user must ask the crew caller to call
    /// again (<c>ReplayFailed</c>), or it would only re-announce the old failure.
    /// </summary>
    public bool ReplayFailed { get; set; }

    /// <summary>What this user's calls cost (the sum over a failure and its replay); null when unpriced or not called.</summary>
    public decimal? Cost { get; set; }

    /// <summary>How long the stored answer's call took; null until an answer is stored.</summary>
    public long? DurationMs { get; set; }
}
