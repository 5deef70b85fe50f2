namespace CrewPlatform.Contracts;

/// <summary>Event: every user dispatched in a run has either a stored answer or a recorded failure.</summary>
public sealed record CrewRunCompleted
{
    /// <summary>The run that completed.</summary>
    public required Guid RunId { get; init; }

    /// <summary>Users sent to the crew caller.</summary>
    public required int Dispatched { get; init; }

    /// <summary>Users whose answer was stored.</summary>
    public required int Succeeded { get; init; }

    /// <summary>Users the crew caller gave up on.</summary>
    public required int Failed { get; init; }

    /// <summary>Users not sent because both their context and goal were empty.</summary>
    public required int Skipped { get; init; }

    /// <summary>When the run completed.</summary>
    public required DateTimeOffset CompletedAt { get; init; }

    /// <summary>The segment of users the run covered (<c>all</c> for every user); null for a run of listed users and in older messages.</summary>
    public string? Segment { get; init; }

    /// <summary><c>completed</c>, or <c>cancelled</c> for a run an operator cancelled; null in older messages (completed).</summary>
    public string? Status { get; init; }

    /// <summary>Users not called because the run was cancelled first.</summary>
    public int Cancelled { get; init; }

    /// <summary>A budget of the run ran out: the users it left uncalled are among <see cref="Skipped"/> (reason <c>budget</c>).</summary>
    public bool BudgetExhausted { get; init; }

    /// <summary>What the run's calls cost in all; 0 when unpriced.</summary>
    public decimal Spent { get; init; }

    /// <summary>Users not called because their latest answer came from the same context and goal recently enough (the run's <c>skipUnchanged</c>); 0 in older messages.</summary>
    public int Unchanged { get; init; }
}
