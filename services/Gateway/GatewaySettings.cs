using System.Globalization;

namespace CrewPlatform.Gateway;

/// <summary>
/// The gateway's knobs, one environment name each. The backend addresses and the backend timeout are written
/// over the <c>ReverseProxy</c> section, so YARP's configuration stays the single place that routes.
/// </summary>
public sealed record GatewaySettings(string? AdminToken, bool AuthDisabled, int RateLimitPerMinute)
{
    public const string AdminTokenKey = "CREW_ADMIN_TOKEN";
    public const string AuthDisabledKey = "CREW_AUTH_DISABLED";
    public const string RateLimitPerMinuteKey = "CREW_RATE_LIMIT_PER_MINUTE";
    public const string SchedulerUrlKey = "GATEWAY_SCHEDULER_URL";
    public const string ResponseStoreUrlKey = "GATEWAY_RESPONSE_STORE_URL";
    public const string BackendTimeoutSecondsKey = "GATEWAY_BACKEND_TIMEOUT_SECONDS";

    public const int DefaultRateLimitPerMinute = 600;

    /// <summary>YARP cluster ids, as named in appsettings.json.</summary>
    public static readonly IReadOnlyDictionary<string, string> ClusterUrlKeys = new Dictionary<string, string>
    {
        ["scheduler"] = SchedulerUrlKey,
        ["response-store"] = ResponseStoreUrlKey,
    };

    public static GatewaySettings From(IConfiguration configuration)
    {
        var token = configuration[AdminTokenKey];
        var authDisabled = configuration[AuthDisabledKey] is { Length: > 0 } disabled
            && (bool.TryParse(disabled, out var value) ? value : throw Invalid(AuthDisabledKey, disabled, "true or false"));
        var perMinute = configuration[RateLimitPerMinuteKey] is { Length: > 0 } limit
            ? int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed)
                ? parsed
                : throw Invalid(RateLimitPerMinuteKey, limit, "a whole number >= 0 (0 turns the limit off)")
            : DefaultRateLimitPerMinute;

        if (!authDisabled && string.IsNullOrWhiteSpace(token))
        {
            throw new InvalidOperationException(
                $"{AdminTokenKey} is not set: the gateway refuses to expose /api/* without a token. " +
                $"Set {AdminTokenKey}, or set {AuthDisabledKey}=true to run without authentication (never in production).");
        }

        return new GatewaySettings(string.IsNullOrWhiteSpace(token) ? null : token.Trim(), authDisabled, perMinute);
    }

    /// <summary>Writes the simple backend knobs over the matching <c>ReverseProxy</c> keys.</summary>
    public static void ApplyBackendOverrides(IConfigurationManager configuration)
    {
        var overrides = new Dictionary<string, string?>();
        foreach (var (cluster, key) in ClusterUrlKeys)
        {
            if (configuration[key] is { Length: > 0 } url)
            {
                if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                {
                    throw Invalid(key, url, "an absolute http(s) URL");
                }

                overrides[$"ReverseProxy:Clusters:{cluster}:Destinations:primary:Address"] = url;
            }
        }

        if (configuration[BackendTimeoutSecondsKey] is { Length: > 0 } seconds)
        {
            if (!int.TryParse(seconds, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value <= 0)
            {
                throw Invalid(BackendTimeoutSecondsKey, seconds, "a whole number of seconds > 0");
            }

            foreach (var cluster in ClusterUrlKeys.Keys)
            {
                overrides[$"ReverseProxy:Clusters:{cluster}:HttpRequest:ActivityTimeout"] =
                    TimeSpan.FromSeconds(value).ToString("c", CultureInfo.InvariantCulture);
            }
        }

        if (overrides.Count > 0)
        {
            configuration.AddInMemoryCollection(overrides);
        }
    }

    private static InvalidOperationException Invalid(string key, string value, string expected) =>
        new($"{key}='{value}' is not valid: expected {expected}.");
}
