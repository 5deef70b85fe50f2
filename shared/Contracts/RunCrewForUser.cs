namespace CrewPlatform.Contracts;

/// <summary>
/// Command: call the crew API once for one user of one run, with the user's business background and goal
/// as they were when the page was read.
/// </summary>
public sealed record RunCrewForUser
{
    /// <summary>The run this call belongs to; with <see cref="UserUid"/> it identifies the call exactly once.</summary>
    public required Guid RunId { get; init; }

    /// <summary>The user's uid in the host application's <c>users</c> table.</summary>
    public required string UserUid { get; init; }

    /// <summary>The user's business background (<c>users.context</c>), sent as <c>customer_business_background_latest</c>.</summary>
    public string? Context { get; init; }

    /// <summary>The user's goal (<c>users.goal</c>), sent as <c>customer_goal_latest</c>.</summary>
    public string? Goal { get; init; }

    /// <summary>
    /// An operator's replay of a failed call (<c>POST /api/scheduler/runs/{id}/retry-failed</c>): the crew caller may
    /// call again for a (run, user) whose call failed for good. Any other command for such a user only re-announces
    /// the recorded failure.
    /// </summary>
    public bool ReplayFailed { get; init; }

    /// <summary>The crew endpoint to call (configuration's name); null or <c>default</c> is <c>CREW_API_URL</c>.</summary>
    public string? Endpoint { get; init; }

    /// <summary><c>high</c> or <c>normal</c> (null): which of the endpoint's queues the command waits in.</summary>
    public string? Priority { get; init; }

    /// <summary>The schedule the run belongs to; null for a run of no schedule (a targeted run-now) and in older messages.</summary>
    public int? ScheduleId { get; init; }

    /// <summary>
    /// The spend limits the call is admitted under, as the run and its schedule set them; null when the run has none
    /// (and in older messages). The crew caller reserves each attempt against them before it calls.
    /// </summary>
    public RunBudget? Budget { get; init; }
}

/// <summary>
/// A run's spend limits, carried by each of its commands so every crew caller instance judges them alike. Each limit
/// is checked in the crew caller's ledger, in the same statement that claims the call, so several instances and a
/// crash cannot overshoot it by more than the attempts already in flight.
/// </summary>
public sealed record RunBudget
{
    /// <summary>At most this many attempts reach the crew API for the run (a retry is an attempt, so is a crashed call's repeat).</summary>
    public int? MaxCalls { get; init; }

    /// <summary>At most this much is spent on the run, in the operator's own unit (<c>CREW_COST_CURRENCY</c>).</summary>
    public decimal? MaxSpend { get; init; }

    /// <summary>At most this much is spent per day on <see cref="DayScope"/>.</summary>
    public decimal? MaxSpendPerDay { get; init; }

    /// <summary>
    /// What <see cref="MaxSpendPerDay"/> counts: the run's schedule and day, e.g. <c>schedule:3:2026-12-04</c> (the day
    /// in UTC); every run of that schedule on that day shares it. Null when there is no daily limit.
    /// </summary>
    public string? DayScope { get; init; }
}
