namespace CrewPlatform.Webhooks.Delivery;

/// <summary>The event types a subscription can name, and the platform event each comes from.</summary>
public static class WebhookEventTypes
{
    /// <summary><c>CrewRunCompleted</c> with at least one stored answer, or none dispatched.</summary>
    public const string RunCompleted = "run.completed";

    /// <summary><c>CrewRunCompleted</c> where every dispatched user failed.</summary>
    public const string RunFailed = "run.failed";

    /// <summary><c>CrewRunSkipped</c>: a due time found the previous run still going.</summary>
    public const string RunSkipped = "run.skipped";

    /// <summary><c>CrewResponseStored</c>: one per stored answer.</summary>
    public const string CrewResponseStored = "crew-response.stored";

    /// <summary><c>CrewApiAvailabilityChanged</c>: an endpoint's circuit opened.</summary>
    public const string CrewApiUnavailable = "crew-api.unavailable";

    /// <summary><c>CrewApiAvailabilityChanged</c>: an endpoint's circuit closed again.</summary>
    public const string CrewApiRecovered = "crew-api.recovered";

    public static readonly string[] All = [RunCompleted, RunFailed, RunSkipped, CrewResponseStored, CrewApiUnavailable, CrewApiRecovered];
}
