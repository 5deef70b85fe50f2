using CrewPlatform.CrewCaller.Consumers;
using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.CrewCaller.Persistence;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Refit;

namespace CrewPlatform.CrewCaller;

public static class CrewCallerRegistration
{
    /// <summary>CrewCaller's consumers, for the service's bus and for harness tests alike.</summary>
    public static IBusRegistrationConfigurator AddCrewCallerConsumers(this IBusRegistrationConfigurator configurator)
    {
        configurator.AddConsumer<RunCrewForUserConsumer, RunCrewForUserConsumerDefinition>();
        return configurator;
    }

    /// <summary>Validated <c>CREW_*</c> options, the crew API's Refit client and the call ledger.</summary>
    public static IServiceCollection AddCrewCaller(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<CrewCallerOptions>()
            .Bind(configuration)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        // On shutdown a crew call may have minutes to go: cancel it soon, so the consumer releases its claim and the
        // broker hands the command to another instance straight away instead of after the lease.
        services.Configure<MassTransitHostOptions>(options => options.ConsumerStopTimeout = TimeSpan.FromSeconds(10));

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<CrewCallerInstance>();
        services.AddSingleton<CrewCallLedger>();
        services.AddTransient<CrewApiInvoker>();

        // The generated client: Refit 16's reflection builder is not supported here. No resilience handler and no
        // HttpClient timeout: a crew call lasts up to 10 minutes, and CrewApiInvoker times each attempt itself.
        services.AddRefitGeneratedClient<ICrewApi>()
            .ConfigureHttpClient((provider, client) =>
            {
                client.BaseAddress = provider.GetRequiredService<IOptions<CrewCallerOptions>>().Value.ApiUri();
                client.Timeout = Timeout.InfiniteTimeSpan;
            });
        return services;
    }
}
