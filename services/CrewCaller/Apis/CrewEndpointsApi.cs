using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.ServiceDefaults;

namespace CrewPlatform.CrewCaller.Apis;

/// <summary>
/// <c>GET /api/crew-caller/endpoints</c>: each crew endpoint of this instance with its circuit (closed, open or
/// half-open, open since and until when, the latest attempt that found the API unavailable) and its slots in use.
/// Read-only, and about this instance alone: every CrewCaller instance keeps its own circuits.
/// </summary>
public static class CrewEndpointsApi
{
    public const string Path = "/api/crew-caller/endpoints";

    public sealed record EndpointStatus(
        string Name,
        string Circuit,
        DateTimeOffset? OpenSince,
        DateTimeOffset? OpenUntil,
        string? LastFailure,
        DateTimeOffset? LastFailureAt,
        int MaxConcurrency,
        int InFlight);

    public static IEndpointRouteBuilder MapCrewEndpointsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, (CrewEndpoints endpoints) =>
        {
            var statuses = endpoints.All.OrderBy(e => e.Name, StringComparer.Ordinal).Select(Status).ToList();
            return ApiResults.Ok(statuses, count: statuses.Count);
        });
        return app;
    }

    private static EndpointStatus Status(CrewEndpoint endpoint)
    {
        var circuit = endpoint.Circuit.Snapshot();
        return new EndpointStatus(
            endpoint.Name, CircuitName(circuit.State), circuit.OpenSince, circuit.OpenUntil, circuit.LastFailure, circuit.LastFailureAt,
            endpoint.MaxConcurrency, endpoint.Gate.InUse);
    }

    private static string CircuitName(CrewApiCircuitState state) => state switch
    {
        CrewApiCircuitState.Open => "open",
        CrewApiCircuitState.HalfOpen => "half-open",
        _ => "closed",
    };
}
