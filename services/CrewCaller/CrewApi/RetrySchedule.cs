namespace CrewPlatform.CrewCaller.CrewApi;

/// <summary>How long to wait before the next attempt: exponential backoff with jitter, or the crew API's Retry-After.</summary>
public static class RetrySchedule
{
    /// <param name="failedAttempt">The attempt that just failed, 1 for the first.</param>
    public static TimeSpan DelayAfter(int failedAttempt, TimeSpan? retryAfter, CrewCallerOptions options, Random random)
    {
        var exponential = options.RetryBaseDelayMs * Math.Pow(2, Math.Min(failedAttempt - 1, 30));

        // +-25 % spreads the retries of many users that failed together, so they do not come back in one wave.
        var jittered = TimeSpan.FromMilliseconds(exponential * (0.75 + (random.NextDouble() * 0.5)));

        // Retry-After is a floor; both are capped so a server asking for an hour does not pin a concurrency slot that long.
        var delay = retryAfter is { } asked && asked > jittered ? asked : jittered;
        return delay > options.RetryMaxDelay ? options.RetryMaxDelay : delay;
    }
}
