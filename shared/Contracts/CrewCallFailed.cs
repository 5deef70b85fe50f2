namespace CrewPlatform.Contracts;

/// <summary>
/// Event: the crew caller gave up on one user of one run (recorded in its ledger; an operator's retry-failed replays
/// it). Announced again whenever the command for that user arrives anew, so a lost copy of this event heals itself.
/// </summary>
public sealed record CrewCallFailed
{
    /// <summary>The run the call belonged to.</summary>
    public required Guid RunId { get; init; }

    /// <summary>The user whose call failed.</summary>
    public required string UserUid { get; init; }

    /// <summary>Why it failed, for an operator to read: e.g. "HTTP 400 from crew API", "timed out after 600 s".</summary>
    public required string Reason { get; init; }

    /// <summary>The last HTTP status code received, or null when no answer came (timeout, connection error).</summary>
    public int? StatusCode { get; init; }

    /// <summary>How many HTTP attempts were made.</summary>
    public required int Attempts { get; init; }

    /// <summary>When the caller gave up.</summary>
    public required DateTimeOffset FailedAt { get; init; }

    /// <summary>The schedule of the run, as the command carried it; null for a run of no schedule and in older messages.</summary>
    public int? ScheduleId { get; init; }

    /// <summary>The crew endpoint that was called; null in older messages (the default endpoint).</summary>
    public string? Endpoint { get; init; }

    /// <summary>What the attempts cost (the endpoint's price per attempt that reached the crew API); null when unpriced.</summary>
    public decimal? Cost { get; init; }
}
