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

    /// <summary>
    /// Not called: the run skips unchanged users, and the user's latest answer on the run's endpoint came from exactly
    /// this context and goal, recently enough.
    /// </summary>
    public const string Unchanged = "unchanged";
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

    /// <summary>The run's crew endpoint, kept with the user so that their answers on it are found by one index.</summary>
    public string? Endpoint { get; set; }

    /// <summary>
    /// SHA-256 of the context and goal the user's command carried (<see cref="Runs.InputDigest"/>); null for a user not
    /// sent, and when a re-send carried other input than the first command, so that it is unknown which one was answered.
    /// </summary>
    public byte[]? InputDigest { get; set; }

    /// <summary>When the user's answer was stored (<c>CrewResponseStored.StoredAt</c>); null until then.</summary>
    public DateTimeOffset? AnswerStoredAt { get; set; }
}
