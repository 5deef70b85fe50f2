using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace CrewPlatform.Testing;

/// <summary>
/// A service started in-process (<see cref="WebApplicationFactory{TEntryPoint}"/>) with its settings given as they
/// would be by environment variables, and registrations a test swaps after the service's own.
/// </summary>
/// <param name="settings">Later keys win, so a test's settings override the fixture's.</param>
/// <param name="overrideServices">Runs after every registration of the service, e.g. to swap its bus for the test harness.</param>
public class ServiceApp<TProgram>(IEnumerable<KeyValuePair<string, string?>> settings, Action<IServiceCollection>? overrideServices = null)
    : WebApplicationFactory<TProgram>
    where TProgram : class
{
    /// <summary>The service over a fixture's own database and virtual host, plus the test's settings.</summary>
    public ServiceApp(RealInfrastructure infrastructure, IReadOnlyDictionary<string, string?>? settings = null, Action<IServiceCollection>? overrideServices = null)
        : this(infrastructure.ServiceSettings.Concat(settings ?? new Dictionary<string, string?>()), overrideServices)
    {
    }

    private bool onKestrel;

    /// <summary>
    /// Starts the service on real Kestrel, on a free port of 127.0.0.1 given as ASPNETCORE_URLS would give it (so a
    /// service that adds addresses of its own, like the gateway's management port, listens there too), for a client
    /// outside the process (e.g. Prometheus).
    /// </summary>
    /// <returns>Where it listens, e.g. <c>http://127.0.0.1:41234</c>: the first address, the one given.</returns>
    public Uri StartOnKestrel()
    {
        onKestrel = true;
        UseKestrel();
        StartServer();
        return new Uri(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        if (onKestrel)
        {
            builder.UseSetting(WebHostDefaults.ServerUrlsKey, "http://127.0.0.1:0");
        }

        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }

        if (overrideServices is not null)
        {
            builder.ConfigureTestServices(overrideServices);
        }
    }
}
