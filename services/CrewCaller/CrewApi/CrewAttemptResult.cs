namespace CrewPlatform.CrewCaller.CrewApi;

public enum CrewAttemptOutcome
{
    /// <summary>A 2xx whose body is a JSON object or array.</summary>
    Answered,

    /// <summary>Worth another attempt: connection error, attempt timeout, 408, 429, 5xx.</summary>
    Transient,

    /// <summary>Another attempt would fail the same way: other 4xx, a body that is not JSON, a body too large.</summary>
    Permanent,
}

/// <summary>What one HTTP attempt at the crew API came to.</summary>
public sealed record CrewAttemptResult(
    CrewAttemptOutcome Outcome,
    int? StatusCode,
    string Reason,
    string? ResponseJson = null,
    TimeSpan? RetryAfter = null)
{
    public static CrewAttemptResult Answered(int statusCode, string json) => new(CrewAttemptOutcome.Answered, statusCode, "answered", json);

    public static CrewAttemptResult Transient(int? statusCode, string reason, TimeSpan? retryAfter = null) =>
        new(CrewAttemptOutcome.Transient, statusCode, reason, RetryAfter: retryAfter);

    public static CrewAttemptResult Permanent(int? statusCode, string reason) => new(CrewAttemptOutcome.Permanent, statusCode, reason);
}
