using Microsoft.Extensions.Diagnostics.HealthChecks;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace CrewPlatform.Gateway.Proxy;

/// <summary>
/// Ready only when every cluster has a destination its active health probe found healthy, except a cluster whose
/// metadata says <c>"Readiness": "optional"</c> (CrewCaller's: the dashboard shows it unreachable, and the API goes on).
/// </summary>
public sealed class BackendsHealthCheck(IProxyStateLookup proxyState) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var clusters = proxyState.GetClusters().Where(IsRequired).ToList();
        var down = clusters.Where(cluster => !cluster.Destinations.Values.Any(IsHealthy)).Select(c => c.ClusterId).ToList();

        if (clusters.Count == 0)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("no cluster configured under ReverseProxy:Clusters"));
        }

        return Task.FromResult(down.Count == 0
            ? HealthCheckResult.Healthy($"healthy: {string.Join(", ", clusters.Select(c => c.ClusterId))}")
            : HealthCheckResult.Unhealthy($"no healthy destination: {string.Join(", ", down)}"));
    }

    private static bool IsRequired(ClusterState cluster) =>
        cluster.Model.Config.Metadata?.GetValueOrDefault("Readiness") != "optional";

    // Unknown means "not probed yet" (or probing is off): not ready until a probe has answered.
    private static bool IsHealthy(DestinationState destination) =>
        destination.Health.Active == DestinationHealth.Healthy && destination.Health.Passive != DestinationHealth.Unhealthy;
}
