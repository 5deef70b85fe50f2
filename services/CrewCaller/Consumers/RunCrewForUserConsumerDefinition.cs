using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.ServiceDefaults;
using MassTransit;

namespace CrewPlatform.CrewCaller.Consumers;

/// <summary>
/// Endpoint tuning for <see cref="RunCrewForUserConsumer"/>, for each of its queues: one per crew endpoint and priority
/// (<c>run-crew-for-user[-at-&lt;endpoint&gt;][-high]</c>, all declared by <c>CrewCallerRegistration</c>; a bus that
/// configures its endpoints from the definitions, as the harness tests' does, gets the one <see cref="QueueNames.RunCrewForUser"/>).
/// A queue prefetches and consumes a few more messages than its endpoint's concurrency (<see cref="PrefetchFor"/>),
/// which the endpoint's gate keeps the calls within, so a freed slot starts its next user at once, instead of after a
/// round trip to the broker or after the previous user's outcome is written down. Few enough that a second instance
/// still takes its share of a long queue, and that while the endpoint's circuit is open the users waiting in their
/// slots stop further deliveries, so the rest stay in the queue.
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

        // No ConcurrentMessageLimit of the definition's own: MassTransit would apply it to the consumer on every queue,
        // capping a named endpoint's queues at the default endpoint's concurrency. Each queue gets its own below.
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<RunCrewForUserConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        // Each of an endpoint's queues may hold its whole concurrency: the endpoint's gate keeps the calls within it.
        var concurrency = endpoints.ForQueue(endpointConfigurator.InputAddress.AbsolutePath.Split('/')[^1]).MaxConcurrency;
        endpointConfigurator.PrefetchCount = PrefetchFor(concurrency);
        endpointConfigurator.ConcurrentMessageLimit = PrefetchFor(concurrency);
        consumerConfigurator.UsePlatformRetry();
    }

    /// <summary>
    /// The queue's prefetch: the concurrency plus a quarter (at least 2) waiting ready for the next free slot. The extra
    /// messages are delivered but not acknowledged, so when the instance stops or is killed they go back to the queue
    /// for another instance; none is lost or stranded.
    /// </summary>
    public static int PrefetchFor(int concurrency) => concurrency + Math.Max(2, concurrency / 4);
}
