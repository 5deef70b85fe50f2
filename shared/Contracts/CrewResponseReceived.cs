namespace CrewPlatform.Contracts;

/// <summary>Event: the crew API answered for one user of one run.</summary>
public sealed record CrewResponseReceived
{
    /// <summary>The run the call belonged to.</summary>
    public required Guid RunId { get; init; }

    /// <summary>The user the crew answered for.</summary>
    public required string UserUid { get; init; }

    /// <summary>The context that was sent.</summary>
    public string? RequestContext { get; init; }

    /// <summary>The goal that was sent.</summary>
    public string? RequestGoal { get; init; }

    /// <summary>The crew API's answer exactly as received: raw JSON text, a JSON object or array.</summary>
    public required string ResponseJson { get; init; }

    /// <summary>How many HTTP attempts it took, 1 when the first one answered.</summary>
    public required int Attempts { get; init; }

    /// <summary>Wall time from the first attempt to the answer, in milliseconds.</summary>
    public required long DurationMs { get; init; }

    /// <summary>When the answer arrived.</summary>
    public required DateTimeOffset ReceivedAt { get; init; }

    /// <summary>The schedule of the run, as the command carried it; null for a run of no schedule and in older messages.</summary>
    public int? ScheduleId { get; init; }

    /// <summary>The crew endpoint that was called; null in older messages (the default endpoint).</summary>
    public string? Endpoint { get; init; }

    /// <summary>What the call cost (the answer's own figure or the endpoint's price); null when neither is known.</summary>
    public decimal? Cost { get; init; }
}
