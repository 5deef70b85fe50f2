using System.Reflection;
using System.Globalization;
using CrewPlatform.Contracts;
using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.ServiceDefaults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.OpenApi;

namespace CrewPlatform.ResponseStore.Apis;

/// <summary>
/// The list's filters by where an answer came from: <c>scheduleId</c> (a whole number of 1 or more) and
/// <c>endpoint</c> (a crew endpoint's name, e.g. <c>default</c>), each optional and given at most once. They look up
/// the answer's run in <see cref="RunOrigin"/>.
/// </summary>
public sealed record RunOriginFilter(int? ScheduleId, string? Endpoint) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder)
    {
        builder.Metadata.Add(new BoundValueSchema("scheduleId", ParameterLocation.Query, "integer", "int32"));
        builder.Metadata.Add(new BoundValueSchema("endpoint", ParameterLocation.Query, "string"));
    }

    public static ValueTask<RunOriginFilter> BindAsync(HttpContext http) =>
        ValueTask.FromResult(Parse(http.Request.Query, out var error) ?? throw new InvalidRequestException(error!));

    private static RunOriginFilter? Parse(IQueryCollection query, out string? error)
    {
        error = null;
        if (query["scheduleId"].Count > 1 || query["endpoint"].Count > 1)
        {
            error = $"{(query["scheduleId"].Count > 1 ? "scheduleId" : "endpoint")} must be given at most once";
            return null;
        }

        int? scheduleId = null;
        if (query["scheduleId"].ToString() is { Length: > 0 } scheduleText)
        {
            if (!WholeNumber.TryParse(scheduleText, out var parsed) || parsed < 1)
            {
                error = "scheduleId must be a whole number of 1 or more";
                return null;
            }

            scheduleId = parsed;
        }

        var endpoint = query["endpoint"].ToString() is { Length: > 0 } endpointText ? endpointText : null;
        if (endpoint is not null && !ServiceDefaults.CrewEndpointDefinition.IsValidName(endpoint))
        {
            error = "endpoint must be an endpoint name: 1 to 40 lower-case letters, digits and dashes";
            return null;
        }

        return new RunOriginFilter(scheduleId, endpoint);
    }

    public IQueryable<CrewResponse> Apply(IQueryable<CrewResponse> rows, IQueryable<RunOrigin> origins)
    {
        if (ScheduleId is { } scheduleId)
        {
            rows = rows.Where(r => origins.Any(o => o.RunId == r.RunId && o.ScheduleId == scheduleId));
        }

        // A run of an earlier version has no origin: the default endpoint answered it.
        if (Endpoint is { } endpoint)
        {
            rows = endpoint == CrewEndpointNames.Default
                ? rows.Where(r => r.RunId != null && !origins.Any(o => o.RunId == r.RunId && o.Endpoint != endpoint))
                : rows.Where(r => origins.Any(o => o.RunId == r.RunId && o.Endpoint == endpoint));
        }

        return rows;
    }
}
