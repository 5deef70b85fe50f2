namespace CrewPlatform.Scheduler.Persistence;

public static class RunTrigger
{
    public const string Schedule = "schedule";
    public const string Manual = "manual";
}

public static class RunStatus
{
    public const string Running = "running";
    public const string Completed = "completed";

    /// <summary>A run an operator cancelled, once every user it had dispatched has an outcome.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>A due time that found the previous run still going (overlap policy <c>skip</c>).</summary>
    public const string Skipped = "skipped";

    /// <summary>
    /// Written only by earlier versions, when the first page could not be published. A run now stays running and the
    /// reconciler re-drives it; the value remains for the rows those versions left.
    /// </summary>
    public const string Failed = "failed";
}

/// <summary>Why a due time was recorded as a skipped run.</summary>
public static class RunSkipReason
{
    /// <summary>The schedule's previous run was still going (overlap policy <c>skip</c>).</summary>
    public const string Overlap = "overlap";

    /// <summary>The schedule's daily budget was spent.</summary>
    public const string Budget = "budget";

    /// <summary>
    /// The due time passed while no replica was ticking (claimed more than the tick plus <see cref="Scheduling.ScheduleService.MissedGrace"/>
    /// after it) and the schedule's catch-up is <c>none</c>.
    /// </summary>
    public const string Missed = "missed";
}

/// <summary>One crew run over the users table: a due time of the schedule or a manual run-now.</summary>
public sealed class Run
{
    public Guid Id { get; set; }
    public string Trigger { get; set; } = RunTrigger.Manual;

    /// <summary>The schedule the run belongs to; null for a run-now of a segment or of a list of users.</summary>
    public int? ScheduleId { get; set; }

    /// <summary>The segment the fan-out walks; null for a run of a list of users (its users are recorded at its start).</summary>
    public string? Segment { get; set; } = SegmentDefinition.All;

    /// <summary>The crew endpoint the run's users are called on.</summary>
    public string Endpoint { get; set; } = Contracts.CrewEndpointNames.Default;

    /// <summary>The priority of the run's commands in the endpoint's queues.</summary>
    public string Priority { get; set; } = Contracts.CrewPriority.Normal;

    /// <summary>The due time the schedule claimed; null for manual runs.</summary>
    public DateTimeOffset? DueAt { get; set; }

    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }
    public string Status { get; set; } = RunStatus.Running;
    public int Dispatched { get; set; }
    public int Succeeded { get; set; }
    public int Failed { get; set; }
    public int Skipped { get; set; }

    /// <summary>Users not called because the run was cancelled first (recorded by the fan-out or announced by the crew caller).</summary>
    public int Cancelled { get; set; }

    /// <summary>Users not called because their latest answer came from the same context and goal within <see cref="SkipUnchangedForMinutes"/>.</summary>
    public int Unchanged { get; set; }

    /// <summary>Users whose latest answer on the run's endpoint is younger than this many minutes and came from the same input are not called; null: everyone is.</summary>
    public int? SkipUnchangedForMinutes { get; set; }

    /// <summary>At most this many calls for the run (its schedule's or its run-now's limit); null: no limit.</summary>
    public int? MaxCallsPerRun { get; set; }

    /// <summary>At most this much spent on the run; null: no limit.</summary>
    public decimal? MaxSpendPerRun { get; set; }

    /// <summary>At most this much spent per UTC day by the run's schedule (by the run itself for a run of no schedule); null: no limit.</summary>
    public decimal? MaxSpendPerDay { get; set; }

    /// <summary>What the run's calls cost, the sum of its users' <see cref="RunUser.Cost"/>.</summary>
    public decimal Spent { get; set; }

    /// <summary>A budget ran out: the crew caller skipped a user for it, and the fan-out records the rest as skipped.</summary>
    public bool BudgetExhausted { get; set; }

    /// <summary>When an operator cancelled the run; the run then ends <see cref="RunStatus.Cancelled"/>.</summary>
    public DateTimeOffset? CancelRequestedAt { get; set; }

    /// <summary>Why a skipped run was skipped (<see cref="RunSkipReason"/>); null for any other run.</summary>
    public string? SkipReason { get; set; }

    /// <summary>The last page of users has been read; the run completes once every dispatched user has an outcome.</summary>
    public bool FanOutCompleted { get; set; }

    /// <summary>The fan-out's keyset cursor: the last uid of the last recorded page; null until a page with users is recorded.</summary>
    public string? FanOutAfterUid { get; set; }

    /// <summary>The page the fan-out expects next (1 until the first page is recorded); a re-driven fan-out resumes here.</summary>
    public int NextPageNumber { get; set; } = 1;

    /// <summary>
    /// When a page or an outcome was last recorded (the start, until then). A stalled fan-out, lost outcomes and a
    /// stale run (one that no longer makes due times skip) are all measured from here.
    /// </summary>
    public DateTimeOffset LastProgressAt { get; set; }

    /// <summary>
    /// When the reconciler last re-drove this run's fan-out or re-sent its commands, so it waits a full threshold before
    /// doing so again. Kept apart from <see cref="LastProgressAt"/>: nudging a run is not progress, and must not keep a
    /// run that never answers from going stale.
    /// </summary>
    public DateTimeOffset? LastReconciledAt { get; set; }

    /// <summary>When <c>CrewRunCompleted</c> was published for the run's latest completion; null until then.</summary>
    public DateTimeOffset? CompletionPublishedAt { get; set; }
}
