namespace CrewPlatform.Scheduler.Persistence;

public static class RunUserStatus
{
    public const string Dispatched = "dispatched";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";

    /// <summary>Not sent: both context and goal were empty.</summary>
    public const string Skipped = "skipped";
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

    /// <summary>Why the crew caller gave up on this user; kept until a replay succeeds.</summary>
    public string? Reason { get; set; }

    /// <summary>
    /// Moved back from failed by <c>retry-failed</c>: any re-sent command for this user must ask the crew caller to call
    /// again (<c>ReplayFailed</c>), or it would only re-announce the old failure.
    /// </summary>
    public bool ReplayFailed { get; set; }
}
