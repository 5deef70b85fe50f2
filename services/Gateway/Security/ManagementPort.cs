using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Gateway.Security;

/// <summary>
/// The gateway's <c>/metrics</c> lives on a port of its own (<c>GATEWAY_MANAGEMENT_URLS</c>), never on the public one:
/// a request is told apart by the local port of its connection (not by its Host header, which the client writes), so
/// no spelling of the path (<c>/api/../metrics</c>, <c>/api/%2e%2e/metrics</c>) reaches the metrics through the
/// public port.
/// </summary>
public static partial class ManagementPort
{
    /// <summary>Listens on the management addresses too, next to the public ones.</summary>
    public static IServiceCollection AddManagementPort(this IServiceCollection services) =>
        services.AddTransient<IStartupFilter, ManagementAddresses>();

    /// <summary>On the management port: <c>/metrics</c>, and the envelope's 404 for anything else.</summary>
    public static WebApplication MapManagementPort(this WebApplication app, GatewayOptions settings)
    {
        var ports = settings.ManagementPorts();
        app.MapWhen(context => ports.Contains(context.Connection.LocalPort), management =>
        {
            management.UseOpenTelemetryPrometheusScrapingEndpoint();
            management.Run(context =>
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            });
        });
        return app;
    }

    /// <summary>
    /// Adds the management addresses to the server's. Startup filters run after the host has put the public addresses
    /// there (ASPNETCORE_URLS, <c>--urls</c>, ASPNETCORE_HTTP_PORTS) and before the server binds them; so the public
    /// ones are read the host's way, and a public address on a management port (which would make its local port
    /// ambiguous) stops the gateway.
    /// </summary>
    private sealed class ManagementAddresses(IOptions<GatewayOptions> options, ILogger<ManagementAddresses> logger) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            // No addresses feature: an in-memory test server, nothing to listen on.
            if (app.ServerFeatures.Get<IServerAddressesFeature>() is { Addresses.IsReadOnly: false } server)
            {
                Add(server.Addresses, options.Value);
            }

            next(app);
        };

        private void Add(ICollection<string> addresses, GatewayOptions settings)
        {
            // None listed: the server's endpoints come from Kestrel's own configuration or defaults, which an address
            // added here would override or be overridden by.
            if (addresses.Count == 0)
            {
                LogNotListening(logger, GatewayOptions.ManagementUrlsKey);
                return;
            }

            var ports = settings.ManagementPorts();
            if (addresses.FirstOrDefault(a => ports.Contains(BindingAddress.Parse(a).Port)) is { } shared)
            {
                throw new InvalidOperationException(
                    $"{GatewayOptions.ManagementUrlsKey}: the public address {shared} is on a management port; give /metrics a port of its own");
            }

            foreach (var (entry, _) in settings.ManagementAddresses())
            {
                addresses.Add(entry);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Setting} is not listened on: the server has no address from ASPNETCORE_URLS, --urls or ASPNETCORE_HTTP_PORTS to add it to, so /metrics is not served")]
    private static partial void LogNotListening(ILogger logger, string setting);
}
