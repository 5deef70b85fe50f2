using System.ComponentModel.DataAnnotations;
using CrewPlatform.ServiceDefaults;
using Microsoft.Extensions.Configuration;

namespace CrewPlatform.CrewCaller;

/// <summary>
/// CrewCaller's settings, read from the top-level <c>CREW_*</c> configuration keys (environment variables of the same
/// name). Validated at startup: a bad value stops the service with a message naming the setting.
/// </summary>
public sealed class CrewCallerOptions : IValidatableObject
{
    [ConfigurationKeyName(CrewApiSettings.UrlKey)]
    public string ApiUrl { get; set; } = CrewApiSettings.DefaultUrl;

    [ConfigurationKeyName("CREW_API_TIMEOUT_SECONDS")]
    [Range(0.1, 86_400, ErrorMessage = "CREW_API_TIMEOUT_SECONDS must be between 0.1 and 86400")]
    public double ApiTimeoutSeconds { get; set; } = 600;

    [ConfigurationKeyName("CREW_MAX_CONCURRENCY")]
    [Range(1, 1_000, ErrorMessage = "CREW_MAX_CONCURRENCY must be between 1 and 1000")]
    public int MaxConcurrency { get; set; } = 8;

    [ConfigurationKeyName("CREW_MAX_ATTEMPTS")]
    [Range(1, 20, ErrorMessage = "CREW_MAX_ATTEMPTS must be between 1 and 20")]
    public int MaxAttempts { get; set; } = 4;

    [ConfigurationKeyName("CREW_RETRY_BASE_DELAY_MS")]
    [Range(0, 600_000, ErrorMessage = "CREW_RETRY_BASE_DELAY_MS must be between 0 and 600000")]
    public int RetryBaseDelayMs { get; set; } = 2_000;

    [ConfigurationKeyName("CREW_RETRY_MAX_DELAY_SECONDS")]
    [Range(0, 3_600, ErrorMessage = "CREW_RETRY_MAX_DELAY_SECONDS must be between 0 and 3600")]
    public double RetryMaxDelaySeconds { get; set; } = 120;

    [ConfigurationKeyName("CREW_MAX_RESPONSE_BYTES")]
    [Range(1, 1L << 30, ErrorMessage = "CREW_MAX_RESPONSE_BYTES must be between 1 and 1073741824")]
    public long MaxResponseBytes { get; set; } = 8 * 1024 * 1024;

    [ConfigurationKeyName("CREW_CIRCUIT_ACTIVATION_THRESHOLD")]
    [Range(1, int.MaxValue, ErrorMessage = "CREW_CIRCUIT_ACTIVATION_THRESHOLD must be at least 1")]
    public int CircuitActivationThreshold { get; set; } = 10;

    [ConfigurationKeyName("CREW_CIRCUIT_TRIP_PERCENT")]
    [Range(1, 100, ErrorMessage = "CREW_CIRCUIT_TRIP_PERCENT must be between 1 and 100")]
    public int CircuitTripPercent { get; set; } = 50;

    [ConfigurationKeyName("CREW_CIRCUIT_TRACKING_SECONDS")]
    [Range(1, 86_400, ErrorMessage = "CREW_CIRCUIT_TRACKING_SECONDS must be between 1 and 86400")]
    public double CircuitTrackingSeconds { get; set; } = 900;

    [ConfigurationKeyName("CREW_CIRCUIT_RESTART_SECONDS")]
    [Range(1, 86_400, ErrorMessage = "CREW_CIRCUIT_RESTART_SECONDS must be between 1 and 86400")]
    public double CircuitRestartSeconds { get; set; } = 30;

    [ConfigurationKeyName("CREW_CLAIM_LEASE_SECONDS")]
    [Range(3, 3_600, ErrorMessage = "CREW_CLAIM_LEASE_SECONDS must be between 3 and 3600")]
    public double ClaimLeaseSeconds { get; set; } = 30;

    [ConfigurationKeyName("CREW_SHUTDOWN_DRAIN_SECONDS")]
    [Range(0, 3_600, ErrorMessage = "CREW_SHUTDOWN_DRAIN_SECONDS must be between 0 and 3600")]
    public double ShutdownDrainSeconds { get; set; } = 120;

    /// <summary>The default endpoint's price of one attempt that got an HTTP answer; null: unpriced.</summary>
    [ConfigurationKeyName("CREW_COST_PER_CALL")]
    public decimal? CostPerCall { get; set; }

    /// <summary>The default endpoint's JSON pointer to the cost in the crew's answer.</summary>
    [ConfigurationKeyName("CREW_COST_POINTER")]
    public string? CostPointer { get; set; }

    /// <summary>The default endpoint's call starts per minute over every instance; null: no limit.</summary>
    [ConfigurationKeyName("CREW_CALLS_PER_MINUTE")]
    public int? CallsPerMinute { get; set; }

    /// <summary>The crew endpoints besides the default one (<c>CREW_ENDPOINTS__{name}__Url</c> ...); each has its own queues, concurrency and circuit.</summary>
    [ConfigurationKeyName("CREW_ENDPOINTS")]
    public Dictionary<string, CrewEndpointDefinition>? Endpoints { get; set; }

    public TimeSpan AttemptTimeout => TimeSpan.FromSeconds(ApiTimeoutSeconds);

    public TimeSpan RetryMaxDelay => TimeSpan.FromSeconds(RetryMaxDelaySeconds);

    /// <summary>
    /// How long a claim on a (run, user) stays ours without renewal. The heartbeat renews it every third of that
    /// while the call is worked on, however long the call takes, so an instance killed outright is taken over after
    /// at most this long rather than after a whole attempt timeout.
    /// </summary>
    public TimeSpan ClaimLease => TimeSpan.FromSeconds(ClaimLeaseSeconds);

    /// <summary>How long a stopping instance lets the calls in flight finish before it cancels them.</summary>
    public TimeSpan ShutdownDrain => TimeSpan.FromSeconds(ShutdownDrainSeconds);

    public TimeSpan CircuitTrackingPeriod => TimeSpan.FromSeconds(CircuitTrackingSeconds);

    public TimeSpan CircuitRestartTimeout => TimeSpan.FromSeconds(CircuitRestartSeconds);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!HttpUrl.IsAbsoluteHttp(ApiUrl))
        {
            yield return new ValidationResult("CREW_API_URL must be an absolute http:// or https:// URL", [nameof(ApiUrl)]);
        }

        foreach (var problem in CrewEndpointDefinition.SpendAndPaceProblems(
                     "CREW_COST_PER_CALL", CostPerCall, "CREW_COST_POINTER", CostPointer, "CREW_CALLS_PER_MINUTE", CallsPerMinute))
        {
            yield return new ValidationResult(problem, [nameof(CostPerCall)]);
        }

        foreach (var problem in CrewEndpointDefinition.Problems(Endpoints))
        {
            yield return new ValidationResult(problem, [nameof(Endpoints)]);
        }
    }
}
