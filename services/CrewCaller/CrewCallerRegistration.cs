using CrewPlatform.CrewCaller.Apis;
using CrewPlatform.CrewCaller.Calls;
using CrewPlatform.CrewCaller.Consumers;
using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.CrewCaller.Persistence;
using CrewPlatform.CrewCaller.Retention;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.ServiceDefaults.Retention;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace CrewPlatform.CrewCaller;

public static class CrewCallerRegistration
{
    /// <summary>The call ledger's database, the crew API client and its settings, the bus with CrewCaller's consumers, and the ledger's retention pass.</summary>
    public static WebApplicationBuilder AddCrewCaller(this WebApplicationBuilder builder)
    {
        builder.AddPostgresDbContext<WebApplicationBuilder, CrewCallerDbContext>(CrewCallerDbContext.Schema);
        builder.Services.AddCrewCaller(builder.Configuration);
        builder.AddRunHistoryRetention<WebApplicationBuilder, LedgerRetention>();
        builder.AddMessaging(x => x.AddCrewCallerConsumers(), ConfigureCrewQueues);
        return builder;
    }

    /// <summary>
    /// Every (crew endpoint, priority) queue, the default endpoint's normal one (<c>run-crew-for-user</c>) included: each
    /// has the same consumer, its endpoint's concurrency (the consumer's definition), and is a quorum queue like every
    /// other. A consumer configured here is left out of <c>ConfigureEndpoints</c>, so all its queues are declared here.
    /// </summary>
    private static void ConfigureCrewQueues(IBusRegistrationContext context, IRabbitMqBusFactoryConfigurator bus)
    {
        foreach (var (_, _, queue) in context.GetRequiredService<CrewEndpoints>().Queues())
        {
            bus.ReceiveEndpoint(queue, endpoint =>
            {
                endpoint.UsePlatformQueue();
                endpoint.ConfigureConsumer<RunCrewForUserConsumer>(context);
            });
        }
    }

    /// <summary>
    /// CrewCaller is driven by its queue; its one API is read-only, its endpoints' circuits for the dashboard
    /// (<see cref="CrewEndpointsApi"/>). Its metrics are created now, so the circuit's gauge is scraped before the first call.
    /// </summary>
    public static WebApplication MapCrewCaller(this WebApplication app)
    {
        app.Services.GetRequiredService<CrewCallerMetrics>();
        app.MapCrewEndpointsApi();
        return app;
    }

    /// <summary>CrewCaller's consumers, for the service's bus and for harness tests alike.</summary>
    public static IBusRegistrationConfigurator AddCrewCallerConsumers(this IBusRegistrationConfigurator configurator)
    {
        configurator.AddConsumer<RunCrewForUserConsumer, RunCrewForUserConsumerDefinition>();
        configurator.AddConsumer<CrewRunCancelledConsumer, CrewRunCancelledConsumerDefinition>();
        return configurator;
    }

    /// <summary>Validated <c>CREW_*</c> options, the crew endpoints' clients and circuits, the call's steps, the call ledger and its heartbeat.</summary>
    public static IServiceCollection AddCrewCaller(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<CrewCallerOptions>(configuration);

        // On shutdown the calls in flight are paid for already: let them finish for CREW_SHUTDOWN_DRAIN_SECONDS (waiting
        // consumers hand their commands back at once). Post-configured, because AddMessaging sets the platform's
        // 10 s default after this runs. The bus and the host get a margin to publish the last outcomes and stop.
        services.AddOptions<MassTransitHostOptions>().PostConfigure<IOptions<CrewCallerOptions>>((host, crew) =>
        {
            // Later than CrewCallDrain, so a call cut by the drain's end hands its command back before MassTransit cancels.
            host.ConsumerStopTimeout = crew.Value.ShutdownDrain + TimeSpan.FromSeconds(10);
            host.StopTimeout = crew.Value.ShutdownDrain + TimeSpan.FromSeconds(25);
        });
        services.AddOptions<HostOptions>().PostConfigure<IOptions<CrewCallerOptions>>((host, crew) =>
            host.ShutdownTimeout = crew.Value.ShutdownDrain + TimeSpan.FromSeconds(40));

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<CrewCallerInstance>();
        services.AddSingleton<CrewCallLedger>();
        services.AddSingleton<ActiveClaims>();
        services.AddSingleton<CrewCallDrain>();
        services.AddSingleton<CrewCallClaim>();
        services.AddSingleton<CrewCallAttempts>();
        services.AddSingleton<CrewCallOutcome>();
        services.AddSingleton<CrewCallHandBack>();
        services.AddHostedService<ClaimHeartbeat>();
        services.AddSingleton<CrewEndpoints>();
        services.AddSingleton<CrewPace>();
        services.AddMetrics();
        services.AddSingleton<CrewCallerMetrics>();
        services.AddHostedService<CrewApiAvailabilityAnnouncer>();
        services.AddTransient<CrewApiInvoker>();

        // Every endpoint's client (CrewEndpoints gives each its URL and headers). No resilience handler and no HttpClient
        // timeout: a crew call lasts up to 10 minutes, and CrewApiInvoker times each attempt itself. No HttpClient log
        // lines either: they were four Information lines per user, and the consumer logs every failed attempt and every
        // failure itself. Connections are pooled per server without limit (each endpoint's concurrency gate bounds them)
        // and renewed every 5 minutes.
        services.AddHttpClient(CrewEndpoints.HttpClientName)
            .ConfigureHttpClient(client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            .RemoveAllLoggers();
        return services;
    }
}
