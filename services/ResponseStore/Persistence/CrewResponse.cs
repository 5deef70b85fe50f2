namespace CrewPlatform.ResponseStore.Persistence;

/// <summary>One row of <c>crew_responses</c>: the crew API's answer for one user.</summary>
public sealed class CrewResponse
{
    public int Id { get; set; }

    public required string UserUid { get; set; }

    public string? RequestContext { get; set; }

    public string? RequestGoal { get; set; }

    /// <summary>The answer as JSON text; PostgreSQL keeps it as <c>jsonb</c>.</summary>
    public required string ResponseData { get; set; }

    /// <summary>
    /// UTC; the column is a nullable <c>timestamp</c> without time zone defaulting to now, as the host application
    /// defined it. Rows written by this service always have it.
    /// </summary>
    public DateTime? CreatedAt { get; set; }

    /// <summary>The run that produced the answer; null for rows posted through the REST API.</summary>
    public Guid? RunId { get; set; }

    /// <summary>What the crew call cost, in the operator's currency (<c>numeric</c>); null when unknown.</summary>
    public decimal? Cost { get; set; }

    /// <summary>
    /// The crew endpoint that answered (<c>default</c> for a run without an origin); null for rows posted through the
    /// REST API, which form a series of their own. The user's previous answer is looked up on the same value.
    /// </summary>
    public string? Endpoint { get; set; }

    /// <summary>The user's latest answer on the same <see cref="Endpoint"/> when this one was stored; null for the first one.</summary>
    public int? PreviousResponseId { get; set; }

    /// <summary>Whether the answer differs from <see cref="PreviousResponseId"/>'s (jsonb equality); null when there was none.</summary>
    public bool? Changed { get; set; }
}
