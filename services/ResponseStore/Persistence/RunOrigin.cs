namespace CrewPlatform.ResponseStore.Persistence;

/// <summary>
/// Where a run's answers came from: its schedule and crew endpoint, one row per run, written with the run's first
/// stored answer. Kept beside <c>crew_responses</c> rather than in it, so the host application's table keeps its
/// shape; <c>/api/crew-responses</c> filters through it.
/// </summary>
public sealed class RunOrigin
{
    public Guid RunId { get; set; }

    /// <summary>The run's schedule; null for a run of no schedule (a run-now of a segment or of listed users).</summary>
    public int? ScheduleId { get; set; }

    public string Endpoint { get; set; } = Contracts.CrewEndpointNames.Default;
}
