namespace CrewPlatform.Contracts;

/// <summary>
/// Response to a <see cref="CrewRunCancelled"/> sent as a request (the cancel API's): the crew caller has recorded the
/// cancel, so from now on no instance starts a call of the run; only the calls already claimed finish.
/// </summary>
public sealed record CrewRunCancelRecorded
{
    /// <summary>The run whose cancel was recorded.</summary>
    public required Guid RunId { get; init; }
}
