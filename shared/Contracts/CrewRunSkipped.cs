namespace CrewPlatform.Contracts;

/// <summary>Event: a schedule's due time found its previous run still going, and was recorded as a skipped run (overlap <c>skip</c>).</summary>
public sealed record CrewRunSkipped
{
    /// <summary>The skipped run's record.</summary>
    public required Guid RunId { get; init; }

    /// <summary>The schedule whose due time was skipped.</summary>
    public int? ScheduleId { get; init; }

    /// <summary>The segment the run would have covered.</summary>
    public string? Segment { get; init; }

    /// <summary>The due time that was skipped.</summary>
    public required DateTimeOffset DueAt { get; init; }
}
