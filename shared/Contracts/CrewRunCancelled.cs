namespace CrewPlatform.Contracts;

/// <summary>
/// Event: an operator cancelled a running run. The crew caller records it and calls none of the run's users from then
/// on (each is announced as <see cref="CrewCallSkipped"/> with reason <c>cancelled</c>); calls already in flight finish.
/// Published again by the scheduler's reconciler while the run has not ended, so a lost copy heals itself.
/// </summary>
public sealed record CrewRunCancelled
{
    /// <summary>The run that was cancelled.</summary>
    public required Guid RunId { get; init; }

    /// <summary>When the operator cancelled it.</summary>
    public required DateTimeOffset CancelledAt { get; init; }
}
