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

    /// <summary>The crew endpoint called (configuration's name), for its median cost.</summary>
    public string? Endpoint { get; set; }

    /// <summary>What the call cost, once recorded; null when unpriced.</summary>
    public decimal? Cost { get; set; }

    /// <summary>
    /// The expected cost still reserved for this row's attempts in its spend scopes (<c>run:{run_id}</c> and
    /// <see cref="DayScope"/>); null when the command carries no budget or nothing is reserved.
    /// </summary>
    public decimal? ReservedCost { get; set; }

    /// <summary>The daily spend scope the row's reservation counts against, as the command's budget named it.</summary>
    public string? DayScope { get; set; }
}

/// <summary>What a budget counts: a run (<c>run:{runId}</c>) or a schedule's day (<c>schedule:{id}:{day}</c>), over every instance.</summary>
public sealed class SpendScope
{
    public required string Scope { get; set; }

    /// <summary>Attempts admitted against the scope.</summary>
    public int Calls { get; set; }

    /// <summary>Expected cost of the attempts admitted but not settled yet.</summary>
    public decimal Reserved { get; set; }

    /// <summary>Settled cost.</summary>
    public decimal Spent { get; set; }
}

/// <summary>A run an operator cancelled: no further user of it is called.</summary>
public sealed class CancelledRun
{
    public required Guid RunId { get; set; }

    public DateTimeOffset CancelledAt { get; set; }
}

/// <summary>One crew endpoint's shared pace: when the next call may start, and until when a 429 paused it.</summary>
public sealed class EndpointPace
{
    public required string Endpoint { get; set; }

    public DateTimeOffset NextStartAt { get; set; }

    public DateTimeOffset PausedUntil { get; set; }
}

public static class CrewCallStatus
{
    public const string Calling = "calling";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";

    /// <summary>Never called: the run's budget ran out or the run was cancelled (the reason is in <c>last_error</c>).</summary>
    public const string Skipped = "skipped";
}
