using System.ComponentModel.DataAnnotations;
using System.Net;
using CrewPlatform.Gateway.Auth;
using CrewPlatform.ServiceDefaults;
using Microsoft.AspNetCore.Http;

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
    public const string ApiKeysKey = "CREW_API_KEYS";
    public const string ApiKeysFileKey = "CREW_API_KEYS_FILE";
    public const string JwtAuthorityKey = "CREW_JWT_AUTHORITY";
    public const string JwtIssuerKey = "CREW_JWT_ISSUER";
    public const string JwtAudienceKey = "CREW_JWT_AUDIENCE";
    public const string JwtJwksUrlKey = "CREW_JWT_JWKS_URL";
    public const string KnownProxiesKey = "CREW_GATEWAY_KNOWN_PROXIES";
    public const string KeysDirectoryKey = "CREW_GATEWAY_KEYS_DIRECTORY";
    public const string ManagementUrlsKey = "GATEWAY_MANAGEMENT_URLS";

    private ApiKeyList? apiKeyList;

    /// <summary>The one admin key of earlier versions; still accepted, as an admin key named <c>admin</c>.</summary>
    [ConfigurationKeyName(AdminTokenKey)]
    public string? AdminToken { get; set; }

    [ConfigurationKeyName(AuthDisabledKey)]
    public bool AuthDisabled { get; set; }

    /// <summary>Named keys with roles, <c>name:role:key</c> separated by commas (format: <see cref="ApiKeyList"/>).</summary>
    [ConfigurationKeyName(ApiKeysKey)]
    public string? ApiKeys { get; set; }

    /// <summary>A file with one <c>name:role:key</c> per line, e.g. a mounted secret.</summary>
    [ConfigurationKeyName(ApiKeysFileKey)]
    public string? ApiKeysFile { get; set; }

    /// <summary>An OpenID Connect issuer: signing keys and issuer come from its discovery document.</summary>
    [ConfigurationKeyName(JwtAuthorityKey)]
    public string? JwtAuthority { get; set; }

    [ConfigurationKeyName(JwtIssuerKey)]
    public string? JwtIssuer { get; set; }

    [ConfigurationKeyName(JwtAudienceKey)]
    public string? JwtAudience { get; set; }

    /// <summary>A JSON Web Key Set to take the signing keys from, instead of the authority's discovery document.</summary>
    [ConfigurationKeyName(JwtJwksUrlKey)]
    public string? JwtJwksUrl { get; set; }

    /// <summary>The token claim holding the role: a value <c>admin</c> or <c>read</c>.</summary>
    [ConfigurationKeyName("CREW_JWT_ROLE_CLAIM")]
    public string JwtRoleClaim { get; set; } = "role";

    /// <summary>Comma-separated IP addresses and CIDR networks whose <c>X-Forwarded-For</c>/<c>-Proto</c> are believed.</summary>
    [ConfigurationKeyName(KnownProxiesKey)]
    public string? KnownProxies { get; set; }

    /// <summary>
    /// Where the data-protection keys (which sign the dashboard's session cookie, anti-forgery token included) are kept:
    /// replicas sharing it accept each other's sessions. Unset: ASP.NET Core's default, this process's own keys.
    /// </summary>
    [ConfigurationKeyName(KeysDirectoryKey)]
    public string? KeysDirectory { get; set; }

    /// <summary>Calls per client IP per minute on <c>/api/*</c>; 0 turns the limit off.</summary>
    [ConfigurationKeyName("CREW_RATE_LIMIT_PER_MINUTE")]
    [Range(0, int.MaxValue, ErrorMessage = "CREW_RATE_LIMIT_PER_MINUTE must be a whole number >= 0 (0 turns the limit off)")]
    public int RateLimitPerMinute { get; set; } = 600;

    /// <summary>
    /// A backend's address, or several (instances of one service, separated by <c>,</c>): the gateway balances between
    /// them and its health probe takes an instance that stops answering out of the rotation until it answers again.
    /// </summary>
    [ConfigurationKeyName("GATEWAY_SCHEDULER_URL")]
    public string SchedulerUrl { get; set; } = "http://127.0.0.1:8081";

    [ConfigurationKeyName("GATEWAY_RESPONSE_STORE_URL")]
    public string ResponseStoreUrl { get; set; } = "http://127.0.0.1:8083";

    [ConfigurationKeyName("GATEWAY_WEBHOOKS_URL")]
    public string WebhooksUrl { get; set; } = "http://127.0.0.1:8084";

    /// <summary>CrewCaller instances: each answers for its own circuits only, so the dashboard shows the one it reached.</summary>
    [ConfigurationKeyName("GATEWAY_CREW_CALLER_URL")]
    public string CrewCallerUrl { get; set; } = "http://127.0.0.1:8082";

    [ConfigurationKeyName("GATEWAY_BACKEND_TIMEOUT_SECONDS")]
    [Range(1, int.MaxValue, ErrorMessage = "GATEWAY_BACKEND_TIMEOUT_SECONDS must be a whole number of seconds > 0")]
    public int BackendTimeoutSeconds { get; set; } = 100;

    /// <summary>The RabbitMQ management API the dashboard's queue depths are read from, e.g. <c>http://127.0.0.1:15672</c>; unset: unknown.</summary>
    [ConfigurationKeyName("GATEWAY_RABBITMQ_MANAGEMENT_URL")]
    public string? RabbitMqManagementUrl { get; set; }

    [ConfigurationKeyName("GATEWAY_RABBITMQ_MANAGEMENT_USER")]
    public string RabbitMqManagementUser { get; set; } = "guest";

    [ConfigurationKeyName("GATEWAY_RABBITMQ_MANAGEMENT_PASSWORD")]
    public string RabbitMqManagementPassword { get; set; } = "guest";

    /// <summary>The virtual host whose queues the dashboard shows.</summary>
    [ConfigurationKeyName("GATEWAY_RABBITMQ_VHOST")]
    public string RabbitMqVirtualHost { get; set; } = "/";

    /// <summary>
    /// Where the gateway serves <c>/metrics</c>, and nothing else: addresses like ASPNETCORE_URLS' (separated by
    /// <c>;</c>), each on a port of its own. The public port never serves them, whatever the spelling of the path.
    /// </summary>
    [ConfigurationKeyName(ManagementUrlsKey)]
    public string ManagementUrls { get; set; } = "http://127.0.0.1:9464";

    /// <summary>The legacy token trimmed, or null when none is set.</summary>
    public string? Token => string.IsNullOrWhiteSpace(AdminToken) ? null : AdminToken.Trim();

    /// <summary>Every API key from <c>CREW_ADMIN_TOKEN</c>, <c>CREW_API_KEYS</c> and <c>CREW_API_KEYS_FILE</c>, read once.</summary>
    public ApiKeyList ApiKeyList() => apiKeyList ??= Auth.ApiKeyList.Read(this);

    /// <summary>JWT bearer tokens are accepted when there is somewhere to take their signing keys from.</summary>
    public bool JwtEnabled => JwtAuthority is not null || JwtJwksUrl is not null;

    /// <summary>The setting of each YARP cluster id (as named in appsettings.json): its key and its value.</summary>
    private IEnumerable<(string Cluster, string Key, string Value)> BackendSettings() =>
    [
        ("scheduler", "GATEWAY_SCHEDULER_URL", SchedulerUrl),
        ("response-store", "GATEWAY_RESPONSE_STORE_URL", ResponseStoreUrl),
        ("webhooks", "GATEWAY_WEBHOOKS_URL", WebhooksUrl),
        ("crew-caller", "GATEWAY_CREW_CALLER_URL", CrewCallerUrl),
    ];

    /// <summary>Backend addresses per YARP cluster id: one per instance, in the order the setting lists them.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> ClusterAddresses() =>
        BackendSettings().ToDictionary(b => b.Cluster, b => (IReadOnlyList<string>)Addresses(b.Value));

    private static List<string> Addresses(string setting) =>
        [.. setting.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    /// <summary>The entries of <c>CREW_GATEWAY_KNOWN_PROXIES</c>, each an address or a network; both null for an entry that is neither.</summary>
    public IEnumerable<(string Entry, IPAddress? Address, IPNetwork? Network)> TrustedProxies() =>
        (KnownProxies ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ParseProxy);

    private static (string Entry, IPAddress? Address, IPNetwork? Network) ParseProxy(string entry) =>
        entry.Contains('/', StringComparison.Ordinal)
            ? (entry, null, IPNetwork.TryParse(entry, out var network) ? network : null)
            : (entry, IPAddress.TryParse(entry, out var address) ? address : null, null);

    /// <summary>
    /// Each entry of <c>GATEWAY_MANAGEMENT_URLS</c> as ASP.NET Core's server reads an address; null for one it cannot read
    /// or that is not plain http on a fixed port.
    /// </summary>
    public IEnumerable<(string Entry, BindingAddress? Address)> ManagementAddresses() =>
        ManagementUrls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ParseManagementUrl);

    /// <summary>The ports <c>/metrics</c> is served on: a request's local port tells whether it came in on one.</summary>
    public IReadOnlySet<int> ManagementPorts() =>
        ManagementAddresses().Where(a => a.Address is not null).Select(a => a.Address!.Port).ToHashSet();

    private static (string Entry, BindingAddress? Address) ParseManagementUrl(string entry)
    {
        try
        {
            var address = BindingAddress.Parse(entry);
            var plainHttp = address is { Port: > 0 and <= IPEndPoint.MaxPort, PathBase: "", IsUnixPipe: false, IsNamedPipe: false }
                && address.Scheme.Equals(Uri.UriSchemeHttp, StringComparison.OrdinalIgnoreCase);
            return (entry, plainHttp ? address : null);
        }
        catch (FormatException)
        {
            return (entry, null);
        }
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var problem in ApiKeyList().Problems)
        {
            yield return new ValidationResult(problem, [nameof(ApiKeys)]);
        }

        if (!AuthDisabled && ApiKeyList().Keys.Count == 0 && !JwtEnabled)
        {
            yield return new ValidationResult(
                $"No credential is configured: the gateway refuses to expose /api/* without one. Set {ApiKeysKey} " +
                $"(or {ApiKeysFileKey}, or {AdminTokenKey}) and/or {JwtAuthorityKey} or {JwtJwksUrlKey}, " +
                $"or set {AuthDisabledKey}=true to run without authentication (never in production).",
                [nameof(AdminToken)]);
        }

        foreach (var problem in JwtProblems())
        {
            yield return new ValidationResult(problem, [nameof(JwtAuthority)]);
        }

        foreach (var (entry, _, _) in TrustedProxies().Where(p => p.Address is null && p.Network is null))
        {
            yield return new ValidationResult(
                $"{KnownProxiesKey}: '{entry}' is not an IP address or a CIDR network (e.g. 10.0.0.5, or 10.0.0.0/24 with the host bits zero)", [nameof(KnownProxies)]);
        }

        if (!ManagementAddresses().Any())
        {
            yield return new ValidationResult($"{ManagementUrlsKey} must name at least one address, e.g. http://127.0.0.1:9464", [nameof(ManagementUrls)]);
        }

        foreach (var (entry, _) in ManagementAddresses().Where(a => a.Address is null))
        {
            yield return new ValidationResult(
                $"{ManagementUrlsKey}: '{entry}' is not an http:// address with a port and no path (e.g. http://127.0.0.1:9464)", [nameof(ManagementUrls)]);
        }

        if (!string.IsNullOrEmpty(KeysDirectory) && !Path.IsPathFullyQualified(KeysDirectory))
        {
            yield return new ValidationResult($"{KeysDirectoryKey} must be an absolute directory path, e.g. /var/lib/crewplatform/gateway-keys", [nameof(KeysDirectory)]);
        }

        if (!string.IsNullOrEmpty(RabbitMqManagementUrl) && !HttpUrl.IsAbsoluteHttp(RabbitMqManagementUrl))
        {
            yield return new ValidationResult("GATEWAY_RABBITMQ_MANAGEMENT_URL must be an absolute http:// or https:// URL", [nameof(RabbitMqManagementUrl)]);
        }

        foreach (var (_, key, value) in BackendSettings())
        {
            var addresses = Addresses(value);
            if (addresses.Count == 0 || !addresses.All(HttpUrl.IsAbsoluteHttp))
            {
                yield return new ValidationResult(
                    $"{key} must be an absolute http:// or https:// URL, or several separated by commas (one per instance)", [key]);
            }
            else if (addresses.Distinct(StringComparer.OrdinalIgnoreCase).Count() != addresses.Count)
            {
                yield return new ValidationResult($"{key} names an instance twice", [key]);
            }
        }
    }

    private IEnumerable<string> JwtProblems()
    {
        if (!JwtEnabled)
        {
            if (JwtIssuer is not null || JwtAudience is not null)
            {
                yield return $"{JwtIssuerKey}/{JwtAudienceKey} are set but neither {JwtAuthorityKey} nor {JwtJwksUrlKey}: " +
                             "set one of them, where the token signing keys come from";
            }

            yield break;
        }

        if (JwtAudience is null)
        {
            yield return $"{JwtAudienceKey} must be set when JWT bearer tokens are accepted: the audience tokens must be issued for";
        }

        if (JwtJwksUrl is not null && JwtAuthority is null && JwtIssuer is null)
        {
            yield return $"{JwtIssuerKey} must be set with {JwtJwksUrlKey}: the issuer tokens must come from";
        }

        foreach (var (key, url) in new[] { (JwtAuthorityKey, JwtAuthority), (JwtJwksUrlKey, JwtJwksUrl) })
        {
            if (url is not null && !IsHttpsOrLoopbackHttp(url))
            {
                yield return $"{key} must be an absolute https:// URL (http:// only on a loopback address)";
            }
        }
    }

    /// <summary>Signing keys travel over TLS, except from the same machine (a local identity provider, tests).</summary>
    public static bool IsHttpsOrLoopbackHttp(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback));
}
