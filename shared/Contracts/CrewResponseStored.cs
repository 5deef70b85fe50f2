namespace CrewPlatform.Contracts;

/// <summary>Event: a crew answer was written to <c>crew_responses</c> (once per run and user).</summary>
public sealed record CrewResponseStored
{
    /// <summary>The run the answer belonged to.</summary>
    public required Guid RunId { get; init; }

    /// <summary>The user the answer belongs to.</summary>
    public required string UserUid { get; init; }

    /// <summary>The id of the new <c>crew_responses</c> row.</summary>
    public required int ResponseId { get; init; }

    /// <summary>When the row was written.</summary>
    public required DateTimeOffset StoredAt { get; init; }

    /// <summary>What the call cost, as <see cref="CrewResponseReceived.Cost"/>; null when unknown and in older messages.</summary>
    public decimal? Cost { get; init; }

    /// <summary>How long the call took, as <see cref="CrewResponseReceived.DurationMs"/>; null in older messages.</summary>
    public long? DurationMs { get; init; }
}
