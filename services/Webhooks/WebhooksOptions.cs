using System.ComponentModel.DataAnnotations;

namespace CrewPlatform.Webhooks;

/// <summary>
/// The webhook service's settings, read from the top-level <c>WEBHOOKS_*</c> keys (environment variables of the same
/// name). Validated at startup: a bad value stops the service with a message naming the setting.
/// </summary>
public sealed class WebhooksOptions
{
    /// <summary>
    /// Lets subscriptions target loopback, link-local and private addresses. Off in production: a webhook URL is
    /// chosen by an API caller, and the service must not become a way to reach the platform's own network.
    /// </summary>
    [ConfigurationKeyName("WEBHOOKS_ALLOW_PRIVATE_TARGETS")]
    public bool AllowPrivateTargets { get; set; }

    /// <summary>The first retry's delay; later ones are 6, 24, 120, 360, 720, 1440, 2880 and 5760 times it (5 s ... 8 h).</summary>
    [ConfigurationKeyName("WEBHOOKS_RETRY_BASE_SECONDS")]
    [Range(0.01, 3_600, ErrorMessage = "WEBHOOKS_RETRY_BASE_SECONDS must be between 0.01 and 3600")]
    public double RetryBaseSeconds { get; set; } = 5;

    [ConfigurationKeyName("WEBHOOKS_DISABLE_AFTER_HOURS")]
    [Range(0.0001, 8_760, ErrorMessage = "WEBHOOKS_DISABLE_AFTER_HOURS must be between 0.0001 and 8760")]
    public double DisableAfterHours { get; set; } = 24;

    [ConfigurationKeyName("WEBHOOKS_TIMEOUT_SECONDS")]
    [Range(1, 300, ErrorMessage = "WEBHOOKS_TIMEOUT_SECONDS must be between 1 and 300")]
    public double TimeoutSeconds { get; set; } = 15;

    [ConfigurationKeyName("WEBHOOKS_POLL_MS")]
    [Range(10, 60_000, ErrorMessage = "WEBHOOKS_POLL_MS must be between 10 and 60000")]
    public int PollMs { get; set; } = 1_000;

    public TimeSpan RetryBase => TimeSpan.FromSeconds(RetryBaseSeconds);

    public TimeSpan DisableAfter => TimeSpan.FromHours(DisableAfterHours);

    public TimeSpan Timeout => TimeSpan.FromSeconds(TimeoutSeconds);

    /// <summary>
    /// How long a claimed delivery stays with the replica that claimed it: the request's timeout and a margin. A replica
    /// killed mid-send loses its claim after this long, and another sends the delivery again, under the same webhook-id.
    /// </summary>
    public TimeSpan Lease => Timeout + TimeSpan.FromSeconds(10);

    public TimeSpan PollInterval => TimeSpan.FromMilliseconds(PollMs);
}
