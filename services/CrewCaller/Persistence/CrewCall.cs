namespace CrewPlatform.CrewCaller.Persistence;

/// <summary>
/// The ledger row of one crew call: one per (run, user). It is what makes the call happen once: an instance claims
/// the row before calling, renews its lease before each attempt, and records the outcome.
/// </summary>
public sealed class CrewCall
{
    public required Guid RunId { get; set; }

    public required string UserUid { get; set; }

    /// <summary><see cref="CrewCallStatus"/>.</summary>
    public required string Status { get; set; }

    /// <summary>HTTP attempts made so far, over every claim (an operator's replay adds to it).</summary>
    public int Attempts { get; set; }

    public string? LastError { get; set; }

    public int? LastStatusCode { get; set; }

    /// <summary>The instance holding (or last holding) the claim.</summary>
    public required string ClaimedBy { get; set; }

    /// <summary>Until when the claim holds; a 'calling' row past it belongs to a crashed instance and may be taken over.</summary>
    public DateTimeOffset LeaseExpiresAt { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    public DateTimeOffset? FinishedAt { get; set; }

    public long? DurationMs { get; set; }

    /// <summary>The crew API's answer exactly as received (text, not jsonb, so it stays byte for byte).</summary>
    public string? ResponseJson { get; set; }
}

public static class CrewCallStatus
{
    public const string Calling = "calling";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
}
