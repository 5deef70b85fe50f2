namespace CrewPlatform.Webhooks.Delivery;

/// <summary>
/// When a failed delivery is tried again: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, then every 8 h (with the
/// default <c>WEBHOOKS_RETRY_BASE_SECONDS</c> of 5), until it is delivered or its subscription is disabled.
/// </summary>
public static class DeliveryRetrySchedule
{
    private static readonly int[] MultiplesOfBase = [1, 6, 24, 120, 360, 720, 1_440, 2_880, 5_760];

    /// <param name="failedAttempts">Attempts made so far, all failed (1 after the first).</param>
    public static TimeSpan After(int failedAttempts, TimeSpan retryBase) =>
        retryBase * MultiplesOfBase[Math.Clamp(failedAttempts, 1, MultiplesOfBase.Length) - 1];
}
