using CrewPlatform.ServiceDefaults;
using MassTransit;

namespace CrewPlatform.Scheduler.Consumers;

/// <summary>
/// The endpoint shape of the outcome consumers (<see cref="CrewResponseStoredConsumer"/>,
/// <see cref="CrewCallFailedConsumer"/>, <see cref="CrewCallSkippedConsumer"/>): batches of up to 100 outcomes or 20 ms, whichever comes first.
/// Every outcome of a run updates the same runs row, so recording a batch in one round trip moves that row once per
/// batch instead of once per outcome. 20 ms keeps a trickle of outcomes (a small run, the last users of a big one)
/// from waiting on a batch that will not fill. Two batches at once: one is written while the next one fills; more
/// would only queue on the runs row's lock. The prefetch holds both batches in full, so a batch is cut by its size
/// and not by the prefetch.
/// </summary>
public abstract class OutcomeConsumerDefinition<TConsumer> : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    public const int BatchSize = 100;
    public const int ConcurrentBatches = 2;
    public static readonly TimeSpan BatchTimeLimit = TimeSpan.FromMilliseconds(20);

    protected OutcomeConsumerDefinition() =>
        Endpoint(e => e.PrefetchCount = BatchSize * ConcurrentBatches);

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<TConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        consumerConfigurator.Options<BatchOptions>(options => options
            .SetMessageLimit(BatchSize)
            .SetTimeLimit(BatchTimeLimit)
            .SetConcurrencyLimit(ConcurrentBatches));

        // On the consumer, so the whole batch is retried: it is recorded in one implicit transaction, all or nothing.
        consumerConfigurator.UsePlatformRetry();
    }
}
