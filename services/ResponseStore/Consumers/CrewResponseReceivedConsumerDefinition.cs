using CrewPlatform.ServiceDefaults;
using MassTransit;

namespace CrewPlatform.ResponseStore.Consumers;

/// <summary>
/// Batches of up to 100 answers or 20 ms, whichever comes first (with a backlog a batch fills at once from the
/// prefetched messages, so the limit only matters when the queue runs dry: at a run's tail an answer
/// waits no longer than that); the platform retry (minutes while PostgreSQL is away).
/// </summary>
public sealed class CrewResponseReceivedConsumerDefinition : ConsumerDefinition<CrewResponseReceivedConsumer>
{
    public const int BatchSize = 100;

    public CrewResponseReceivedConsumerDefinition()
    {
        // Two batches' worth in flight: the next batch fills while the current one is written.
        Endpoint(e => e.PrefetchCount = BatchSize * 2);
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<CrewResponseReceivedConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        consumerConfigurator.Options<BatchOptions>(options => options
            .SetMessageLimit(BatchSize)
            .SetTimeLimit(TimeSpan.FromMilliseconds(20))
            .SetConcurrencyLimit(1));

        // On the consumer, so the whole batch is retried. A foreign-key violation means a user was deleted while
        // the statement ran; the retry no longer sees the user and reports it instead of failing the batch.
        consumerConfigurator.UsePlatformRetry();
    }
}
