namespace CrewPlatform.Contracts;

/// <summary>Event: a crew answer was written to <c>crew_responses</c> (once per run and user).</summary>
public sealed record CrewResponseStored
{
    /// <summary>The run the answer belonged to.</summary>
    public required Guid RunId { get; init; }

    /// <summary>The user the answer belongs to.</summary>
    public required string UserUid { get; init; }

    /// <summary>The id of the new <c>crew_responses</c> row.</summary>
    public required int ResponseId { get; init; }

    /// <summary>When the row was written.</summary>
    public required DateTimeOffset StoredAt { get; init; }

    /// <summary>What the call cost, as <see cref="CrewResponseReceived.Cost"/>; null when unknown and in older messages.</summary>
    public decimal? Cost { get; init; }

    /// <summary>How long the call took, as <see cref="CrewResponseReceived.DurationMs"/>; null in older messages.</summary>
    public long? DurationMs { get; init; }

    /// <summary>The crew endpoint the answer came from (<c>default</c> for <c>CREW_API_URL</c>); null in older messages.</summary>
    public string? Endpoint { get; init; }

    /// <summary>
    /// Whether the answer differs from the user's previous stored answer on the same endpoint: null when there is none
    /// (the user's first answer there) and in older messages.
    /// </summary>
    public bool? Changed { get; init; }

    /// <summary>The id of that previous answer; null when there is none and in older messages.</summary>
    public int? PreviousResponseId { get; init; }

    /// <summary>What changed since <see cref="PreviousResponseId"/>, when <see cref="Changed"/> is true; null otherwise.</summary>
    public AnswerChangeSummary? Changes { get; init; }

    /// <summary>
    /// The answer itself (JSON text) when it is at most <see cref="AnswerInlineLimitBytes"/> bytes of UTF-8, so that
    /// subscribers can filter on it and carry it without asking the ResponseStore; null when larger and in older messages.
    /// </summary>
    public string? Answer { get; init; }

    /// <summary>The size of the answer in bytes of UTF-8; null in older messages.</summary>
    public int? AnswerBytes { get; init; }

    /// <summary>The largest answer carried in <see cref="Answer"/>: 256 KB.</summary>
    public const int AnswerInlineLimitBytes = 256 * 1024;
}

/// <summary>How one answer differs from the one before it, as JSON pointers into the answers (RFC 6901).</summary>
public sealed record AnswerChangeSummary
{
    /// <summary>How many values exist only in the new answer.</summary>
    public required int Added { get; init; }

    /// <summary>How many values existed only in the previous answer.</summary>
    public required int Removed { get; init; }

    /// <summary>How many values exist in both and differ.</summary>
    public required int Modified { get; init; }

    /// <summary>The pointers of the first <see cref="MaxPaths"/> differences, in document order.</summary>
    public required IReadOnlyList<string> Paths { get; init; }

    /// <summary>At most this many pointers are listed in <see cref="Paths"/>; the counts are always complete.</summary>
    public const int MaxPaths = 20;
}
