using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace CrewPlatform.Gateway.Proxy;

/// <summary>
/// Writes the simple backend knobs (<c>GATEWAY_*_URL</c>, one destination per listed instance, and
/// <c>GATEWAY_BACKEND_TIMEOUT_SECONDS</c>) over the clusters
/// YARP loads from the <c>ReverseProxy</c> section, so the section keeps routes and health checks and every knob has
/// one default, on <see cref="GatewayOptions"/>.
/// </summary>
public sealed class BackendOverrides(IOptions<GatewayOptions> options) : IProxyConfigFilter
{
    public ValueTask<ClusterConfig> ConfigureClusterAsync(ClusterConfig cluster, CancellationToken cancel)
    {
        var settings = options.Value;
        if (!settings.ClusterAddresses().TryGetValue(cluster.ClusterId, out var addresses))
        {
            return ValueTask.FromResult(cluster);
        }

        // One destination per instance: "primary", then "instance-2", "instance-3", ...
        return ValueTask.FromResult(cluster with
        {
            Destinations = addresses
                .Select((address, i) => (Id: i == 0 ? "primary" : $"instance-{i + 1}", Address: address))
                .ToDictionary(d => d.Id, d => new DestinationConfig { Address = d.Address }, StringComparer.OrdinalIgnoreCase),
            HttpRequest = (cluster.HttpRequest ?? new ForwarderRequestConfig()) with
            {
                ActivityTimeout = TimeSpan.FromSeconds(settings.BackendTimeoutSeconds),
            },
        });
    }

    public ValueTask<RouteConfig> ConfigureRouteAsync(RouteConfig route, ClusterConfig? cluster, CancellationToken cancel) =>
        ValueTask.FromResult(route);
}
