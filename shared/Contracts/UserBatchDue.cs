namespace CrewPlatform.Contracts;

/// <summary>
/// Event: the next page of the host application's users is due for a crew run.
/// The scheduler publishes the first page when a run starts; the consumer of a page publishes the next one,
/// so a run walks the whole <c>users</c> table with memory bounded by <see cref="PageSize"/>.
/// </summary>
public sealed record UserBatchDue
{
    /// <summary>The run this page belongs to.</summary>
    public required Guid RunId { get; init; }

    /// <summary>Keyset cursor: the page holds users whose uid sorts after this one; null for the first page.</summary>
    public string? AfterUserUid { get; init; }

    /// <summary>How many users to read for this page.</summary>
    public required int PageSize { get; init; }

    /// <summary>1 for the first page of the run, then 2, 3 ...</summary>
    public required int PageNumber { get; init; }

    /// <summary>The configured segment of users the run covers; null or <c>all</c> is every user.</summary>
    public string? Segment { get; init; }

    /// <summary>The crew endpoint the page's commands go to; null is the default endpoint.</summary>
    public string? Endpoint { get; init; }

    /// <summary>The priority of the page's commands; null is normal.</summary>
    public string? Priority { get; init; }

    /// <summary>The run's schedule, carried into each command; null for a run of no schedule.</summary>
    public int? ScheduleId { get; init; }
}
