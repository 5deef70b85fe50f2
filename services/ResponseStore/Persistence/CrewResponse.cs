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
}
