namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// One crew endpoint besides the default one (<c>CREW_API_URL</c>), configured as
/// <c>CREW_ENDPOINTS__{name}__Url</c>, <c>__TimeoutSeconds</c>, <c>__MaxConcurrency</c>, <c>__MaxAttempts</c>,
/// <c>__CostPerCall</c>, <c>__CostPointer</c>, <c>__CallsPerMinute</c> and <c>__Headers__{header}</c>. A value left out
/// takes the default endpoint's setting. The Scheduler reads the names, prices and paces for its previews; CrewCaller
/// calls them. Header values (an API key from a secret) are never logged.
/// </summary>
public sealed partial class CrewEndpointDefinition
{
    public string? Url { get; set; }

    public double? TimeoutSeconds { get; set; }

    public int? MaxConcurrency { get; set; }

    public int? MaxAttempts { get; set; }

    public Dictionary<string, string>? Headers { get; set; }

    /// <summary>The price of one attempt that got an HTTP answer, in the operator's unit; null: unpriced.</summary>
    public decimal? CostPerCall { get; set; }

    /// <summary>An RFC 6901 JSON pointer to the cost in the crew's answer (e.g. <c>/usage/total_cost</c>); a missing or non-numeric value falls back to <see cref="CostPerCall"/>.</summary>
    public string? CostPointer { get; set; }

    /// <summary>At most this many call starts per minute over every CrewCaller instance (1..1000000); null: no limit.</summary>
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

            foreach (var problem in SpendAndPaceProblems(key + "__CostPerCall", endpoint.CostPerCall, key + "__CostPointer", endpoint.CostPointer, key + "__CallsPerMinute", endpoint.CallsPerMinute))
            {
                yield return problem;
            }
        }
    }

    /// <summary>The problems of a price, a cost pointer and a pace, each naming its setting (the endpoint's or the top-level <c>CREW_*</c> one).</summary>
    public static IEnumerable<string> SpendAndPaceProblems(
        string costKey, decimal? costPerCall, string pointerKey, string? costPointer, string rateKey, int? callsPerMinute)
    {
        if (costPerCall < 0)
        {
            yield return $"{costKey} must be a number of at least 0";
        }

        if (costPointer is { Length: > 0 } && costPointer[0] != '/')
        {
            yield return $"{pointerKey} must be a JSON pointer: empty or starting with '/' (e.g. /usage/total_cost)";
        }

        if (callsPerMinute is < 1 or > 1_000_000)
        {
            yield return $"{rateKey} must be between 1 and 1000000";
        }
    }
}
