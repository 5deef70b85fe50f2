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
/// <param name="ReachedApi">
/// False only when no connection could be made (refused, no such host, TLS handshake failed): the request never left,
/// so the attempt cannot have been paid for. Every other attempt, a timeout or a connection cut mid-answer included, may
/// have been, and always counts against its user.
/// </param>
public sealed record CrewAttemptResult(
    CrewAttemptOutcome Outcome,
    int? StatusCode,
    string Reason,
    string? ResponseJson = null,
    TimeSpan? RetryAfter = null,
    bool ReachedApi = true)
{
    public static CrewAttemptResult Answered(int statusCode, string json) => new(CrewAttemptOutcome.Answered, statusCode, "answered", json);

    public static CrewAttemptResult Transient(int? statusCode, string reason, TimeSpan? retryAfter = null) =>
        new(CrewAttemptOutcome.Transient, statusCode, reason, RetryAfter: retryAfter);

    public static CrewAttemptResult Unreachable(string reason) => new(CrewAttemptOutcome.Transient, null, reason, ReachedApi: false);

    public static CrewAttemptResult Permanent(int? statusCode, string reason) => new(CrewAttemptOutcome.Permanent, statusCode, reason);
}
