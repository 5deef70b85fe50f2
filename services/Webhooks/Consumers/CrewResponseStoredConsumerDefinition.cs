using MassTransit;

namespace CrewPlatform.Webhooks.Consumers;

/// <summary>
/// Batches of up to 100 stored answers or 100 ms, whichever comes first (a quiet queue waits no longer than that), one
/// batch at a time, with two batches' worth prefetched so the next fills while one is written.
/// </summary>
public sealed class CrewResponseStoredConsumerDefinition : WebhookEventConsumerDefinition<CrewResponseStoredConsumer>
{
    public const int BatchSize = 100;

    public CrewResponseStoredConsumerDefinition()
    {
        ConcurrentMessageLimit = BatchSize;
        Endpoint(e => e.PrefetchCount = BatchSize * 2);
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<CrewResponseStoredConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        base.ConfigureConsumer(endpointConfigurator, consumerConfigurator, context);
        consumerConfigurator.Options<BatchOptions>(options => options
            .SetMessageLimit(BatchSize)
            .SetTimeLimit(TimeSpan.FromMilliseconds(100))
            .SetConcurrencyLimit(1));
    }
}
