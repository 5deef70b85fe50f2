using CrewPlatform.Contracts;
using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.ServiceDefaults;

namespace CrewPlatform.ResponseStore.Apis;

/// <summary>
/// The list's filters by where an answer came from, bound with <c>[AsParameters]</c> through the platform's query
/// value types: <c>scheduleId</c> and <c>endpoint</c> (a crew endpoint's name, e.g. <c>default</c>), each optional and
/// given at most once. They look up the answer's run in <see cref="RunOrigin"/>.
/// </summary>
public sealed record RunOriginFilter(ScheduleIdFilter? ScheduleId, EndpointFilter? Endpoint)
{
    public IQueryable<CrewResponse> Apply(IQueryable<CrewResponse> rows, IQueryable<RunOrigin> origins)
    {
        if (ScheduleId?.Value is { } scheduleId)
        {
            rows = rows.Where(r => origins.Any(o => o.RunId == r.RunId && o.ScheduleId == scheduleId));
        }

        // A run of an earlier version has no origin: the default endpoint answered it.
        if (Endpoint?.Value is { } endpoint)
        {
            rows = endpoint == CrewEndpointNames.Default
                ? rows.Where(r => r.RunId != null && !origins.Any(o => o.RunId == r.RunId && o.Endpoint != endpoint))
                : rows.Where(r => origins.Any(o => o.RunId == r.RunId && o.Endpoint == endpoint));
        }

        return rows;
    }
}
