namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// One crew endpoint besides the default one (<c>CREW_API_URL</c>), configured as
/// <c>CREW_ENDPOINTS__{name}__Url</c>, <c>__TimeoutSeconds</c>, <c>__MaxConcurrency</c>, <c>__MaxAttempts</c> and
/// <c>__Headers__{header}</c>. A value left out takes the default endpoint's setting. The Scheduler reads only the
/// names; CrewCaller calls them. Header values (an API key from a secret) are never logged.
/// </summary>
public sealed partial class CrewEndpointDefinition
{
    public string? Url { get; set; }

    public double? TimeoutSeconds { get; set; }

    public int? MaxConcurrency { get; set; }

    public int? MaxAttempts { get; set; }

    public Dictionary<string, string>? Headers { get; set; }

    /// <summary>The fixed price of one call, in the operator's unit (<c>CREW_COST_CURRENCY</c>); null: unpriced.</summary>
    public decimal? CostPerCall { get; set; }

    /// <summary>An RFC 6901 JSON pointer to a call's cost in the crew's answer; a missing or non-numeric value falls back to <see cref="CostPerCall"/>.</summary>
    public string? CostPointer { get; set; }

    /// <summary>At most this many call starts per minute on the endpoint, across every CrewCaller instance; null: no limit.</summary>
    public int? CallsPerMinute { get; set; }

    /// <summary>The problems of a <c>CREW_ENDPOINTS</c> section, each naming its setting.</summary>
    public static IEnumerable<string> Problems(IReadOnlyDictionary<string, CrewEndpointDefinition>? endpoints)
    {
        foreach (var (name, endpoint) in endpoints ?? new Dictionary<string, CrewEndpointDefinition>())
        {
            var key = $"CREW_ENDPOINTS__{name}";
            if (!PlatformNames.IsEndpointName(name) || name == "default")
            {
                yield return $"{key}: an endpoint name is {PlatformNames.EndpointNameRule}, and not 'default' (that is CREW_API_URL)";
            }

            if (!HttpUrl.IsAbsoluteHttp(endpoint.Url))
            {
                yield return $"{key}__Url must be an absolute http:// or https:// URL";
            }

            if (endpoint.TimeoutSeconds is < 0.1 or > 86_400)
            {
                yield return $"{key}__TimeoutSeconds must be between 0.1 and 86400";
            }

            if (endpoint.MaxConcurrency is < 1 or > 1_000)
            {
                yield return $"{key}__MaxConcurrency must be between 1 and 1000";
            }

            if (endpoint.MaxAttempts is < 1 or > 20)
            {
                yield return $"{key}__MaxAttempts must be between 1 and 20";
            }
        }
    }
}
