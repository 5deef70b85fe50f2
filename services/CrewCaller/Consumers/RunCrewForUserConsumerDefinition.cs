using CrewPlatform.Contracts;
using MassTransit;
using Microsoft.Extensions.Options;

namespace CrewPlatform.CrewCaller.Consumers;

/// <summary>
/// Endpoint tuning for <see cref="RunCrewForUserConsumer"/>: queue <c>run-crew-for-user</c>, at most
/// <c>CREW_MAX_CONCURRENCY</c> calls at once and no more messages prefetched than that (a second instance then takes
/// its share of a long queue), and a kill switch that stops consuming while the crew API is down.
/// No message retry: the consumer retries the HTTP call itself, and a second layer would multiply the attempts.
/// </summary>
public sealed class RunCrewForUserConsumerDefinition : ConsumerDefinition<RunCrewForUserConsumer>
{
    private readonly CrewCallerOptions settings;

    public RunCrewForUserConsumerDefinition(IOptions<CrewCallerOptions> options)
    {
        settings = options.Value;
        EndpointName = QueueNames.RunCrewForUser;
        ConcurrentMessageLimit = settings.MaxConcurrency;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<RunCrewForUserConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = settings.MaxConcurrency;
        endpointConfigurator.ConcurrentMessageLimit = settings.MaxConcurrency;

        // Only calls that gave up on an unavailable API count; a run of 400s for bad input is no reason to stop.
        // While stopped, the queue keeps the users; after the restart timeout one more failure stops it again.
        endpointConfigurator.UseKillSwitch(killSwitch => killSwitch
            .SetActivationThreshold(settings.CircuitActivationThreshold)
            .SetTripThreshold(settings.CircuitTripPercent)
            .SetTrackingPeriod(TimeSpan.FromSeconds(settings.CircuitTrackingSeconds))
            .SetRestartTimeout(TimeSpan.FromSeconds(settings.CircuitRestartSeconds))
            .SetExceptionFilter(filter => filter.Handle<CrewApiUnavailableException>()));
    }
}
