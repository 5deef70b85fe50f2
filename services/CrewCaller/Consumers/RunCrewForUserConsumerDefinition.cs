using CrewPlatform.Contracts;
using CrewPlatform.ServiceDefaults;
using MassTransit;
using CrewPlatform.CrewCaller.CrewApi;

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
    private readonly CrewEndpoints endpoints;

    public RunCrewForUserConsumerDefinition(CrewEndpoints endpoints)
    {
        this.endpoints = endpoints;
        EndpointName = QueueNames.RunCrewForUser;
        ConcurrentMessageLimit = endpoints.For(CrewEndpointNames.Default).MaxConcurrency;
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<RunCrewForUserConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        // Each of an endpoint's queues may hold its whole concurrency: the endpoint's gate keeps the calls within it.
        var concurrency = endpoints.ForQueue(endpointConfigurator.InputAddress.AbsolutePath.Split('/')[^1]).MaxConcurrency;
        endpointConfigurator.PrefetchCount = concurrency;
        endpointConfigurator.ConcurrentMessageLimit = concurrency;
        consumerConfigurator.UsePlatformRetry();
    }
}
