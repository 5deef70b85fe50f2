namespace CrewPlatform.Contracts;

/// <summary>
/// Event: a CrewCaller instance's circuit for one crew endpoint opened (the API looks down: calls wait) or closed again
/// (a probe got through). Each instance has its own circuits, so each announces its own transitions.
/// </summary>
public sealed record CrewApiAvailabilityChanged
{
    /// <summary>The crew endpoint's configured name; <c>default</c> is <c>CREW_API_URL</c>.</summary>
    public required string Endpoint { get; init; }

    /// <summary>False when the circuit opened, true when it closed again.</summary>
    public required bool Available { get; init; }

    /// <summary>When the circuit changed.</summary>
    public required DateTimeOffset ChangedAt { get; init; }
}
