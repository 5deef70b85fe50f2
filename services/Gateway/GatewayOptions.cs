using System.ComponentModel.DataAnnotations;
using CrewPlatform.ServiceDefaults;

namespace CrewPlatform.Gateway;

/// <summary>
/// The gateway's knobs, one environment name each, validated at startup: a bad value stops the gateway naming the
/// setting. Routes and health checks stay in the <c>ReverseProxy</c> section; <see cref="Proxy.BackendOverrides"/>
/// writes the backend addresses and the timeout over its clusters.
/// </summary>
public sealed class GatewayOptions : IValidatableObject
{
    public const string AdminTokenKey = "CREW_ADMIN_TOKEN";
    public const string AuthDisabledKey = "CREW_AUTH_DISABLED";

    [ConfigurationKeyName(AdminTokenKey)]
    public string? AdminToken { get; set; }

    [ConfigurationKeyName(AuthDisabledKey)]
    public bool AuthDisabled { get; set; }

    /// <summary>Calls per client IP per minute on <c>/api/*</c>; 0 turns the limit off.</summary>
    [ConfigurationKeyName("CREW_RATE_LIMIT_PER_MINUTE")]
    [Range(0, int.MaxValue, ErrorMessage = "CREW_RATE_LIMIT_PER_MINUTE must be a whole number >= 0 (0 turns the limit off)")]
    public int RateLimitPerMinute { get; set; } = 600;

    [ConfigurationKeyName("GATEWAY_SCHEDULER_URL")]
    public string SchedulerUrl { get; set; } = "http://127.0.0.1:8081";

    [ConfigurationKeyName("GATEWAY_RESPONSE_STORE_URL")]
    public string ResponseStoreUrl { get; set; } = "http://127.0.0.1:8083";

    [ConfigurationKeyName("GATEWAY_BACKEND_TIMEOUT_SECONDS")]
    [Range(1, int.MaxValue, ErrorMessage = "GATEWAY_BACKEND_TIMEOUT_SECONDS must be a whole number of seconds > 0")]
    public int BackendTimeoutSeconds { get; set; } = 100;

    /// <summary>The token trimmed, or null when none is set.</summary>
    public string? Token => string.IsNullOrWhiteSpace(AdminToken) ? null : AdminToken.Trim();

    /// <summary>Backend address per YARP cluster id, as named in appsettings.json.</summary>
    public IReadOnlyDictionary<string, string> ClusterAddresses() => new Dictionary<string, string>
    {
        ["scheduler"] = SchedulerUrl,
        ["response-store"] = ResponseStoreUrl,
    };

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!AuthDisabled && Token is null)
        {
            yield return new ValidationResult(
                $"{AdminTokenKey} is not set: the gateway refuses to expose /api/* without a token. " +
                $"Set {AdminTokenKey}, or set {AuthDisabledKey}=true to run without authentication (never in production).",
                [nameof(AdminToken)]);
        }

        if (!HttpUrl.IsAbsoluteHttp(SchedulerUrl))
        {
            yield return new ValidationResult("GATEWAY_SCHEDULER_URL must be an absolute http:// or https:// URL", [nameof(SchedulerUrl)]);
        }

        if (!HttpUrl.IsAbsoluteHttp(ResponseStoreUrl))
        {
            yield return new ValidationResult("GATEWAY_RESPONSE_STORE_URL must be an absolute http:// or https:// URL", [nameof(ResponseStoreUrl)]);
        }
    }
}
