namespace CrewPlatform.Webhooks.Delivery;

/// <summary>The event types a subscription can name, and the platform event each comes from.</summary>
public static class WebhookEventTypes
{
    /// <summary><c>CrewRunCompleted</c> of a run not cancelled, with at least one stored answer, or none dispatched.</summary>
    public const string RunCompleted = "run.completed";

    /// <summary><c>CrewRunCompleted</c> of a run not cancelled where every dispatched user failed.</summary>
    public const string RunFailed = "run.failed";

    /// <summary><c>CrewRunCompleted</c> with status <c>cancelled</c>: sent instead of run.completed or run.failed.</summary>
    public const string RunCancelled = "run.cancelled";

    /// <summary><c>CrewRunCompleted</c> with <c>BudgetExhausted</c>: sent beside the run's completion event.</summary>
    public const string RunBudgetExhausted = "run.budget-exhausted";

    /// <summary><c>CrewRunSkipped</c>: a due time found the previous run still going.</summary>
    public const string RunSkipped = "run.skipped";

    /// <summary><c>CrewResponseStored</c>: one per stored answer.</summary>
    public const string CrewResponseStored = "crew-response.stored";

    /// <summary><c>CrewResponseStored</c> with <c>Changed</c> true: an answer that differs from the user's previous one on the same endpoint.</summary>
    public const string CrewResponseChanged = "crew-response.changed";

    /// <summary><c>CrewApiAvailabilityChanged</c>: an endpoint's circuit opened.</summary>
    public const string CrewApiUnavailable = "crew-api.unavailable";

    /// <summary><c>CrewApiAvailabilityChanged</c>: an endpoint's circuit closed again.</summary>
    public const string CrewApiRecovered = "crew-api.recovered";

    public static readonly string[] All =
        [RunCompleted, RunFailed, RunCancelled, RunBudgetExhausted, RunSkipped, CrewResponseStored, CrewResponseChanged, CrewApiUnavailable, CrewApiRecovered];

    /// <summary>The events about one answer: the ones a subscription's <c>jsonPath</c> filters and <c>includeAnswer</c> fills.</summary>
    public static readonly string[] AboutAnswers = [CrewResponseStored, CrewResponseChanged];
}
