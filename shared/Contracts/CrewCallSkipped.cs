namespace CrewPlatform.Contracts;

/// <summary>
/// Event: the crew caller did not call for one user of a run, and never will for this run: its budget ran out or it was
/// cancelled. No call was paid for. Announced again whenever the command for that user arrives anew.
/// </summary>
public sealed record CrewCallSkipped
{
    public const string BudgetReason = "budget";
    public const string CancelledReason = "cancelled";

    /// <summary>The run the call belonged to.</summary>
    public required Guid RunId { get; init; }

    /// <summary>The user who was not called.</summary>
    public required string UserUid { get; init; }

    /// <summary><see cref="BudgetReason"/> or <see cref="CancelledReason"/>.</summary>
    public required string Reason { get; init; }

    /// <summary>When the crew caller decided.</summary>
    public required DateTimeOffset SkippedAt { get; init; }

    /// <summary>The schedule of the run, as the command carried it; null for a run of no schedule.</summary>
    public int? ScheduleId { get; init; }

    /// <summary>The crew endpoint that would have been called.</summary>
    public string? Endpoint { get; init; }
}
