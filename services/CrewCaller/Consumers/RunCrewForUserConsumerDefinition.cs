using CrewPlatform.Contracts;
using CrewPlatform.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.Options;

namespace CrewPlatform.CrewCaller.Consumers;

/// <summary>
/// Endpoint tuning for <see cref="RunCrewForUserConsumer"/>: queue <c>run-crew-for-user</c>, at most
/// <c>CREW_MAX_CONCURRENCY</c> calls at once and no more messages prefetched than that: a second instance then takes
/// its share of a long queue, and while the crew API circuit is open the users waiting in their slots stop further
/// deliveries, so the rest stay in the queue.
/// The platform retry covers infrastructure faults before the crew call (the claim finds its own row again); the
/// HTTP attempts are retried by the consumer itself, never by redelivering the message.
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
        consumerConfigurator.UsePlatformRetry();
    }
}
