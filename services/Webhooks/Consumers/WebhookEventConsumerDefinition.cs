using CrewPlatform.ServiceDefaults;
using MassTransit;

namespace CrewPlatform.Webhooks.Consumers;

/// <summary>
/// The endpoint shape of every event the webhooks turn into deliveries: each message is one INSERT ... SELECT, so a
/// handful at once is plenty; the platform retry (minutes while PostgreSQL is away).
/// </summary>
public class WebhookEventConsumerDefinition<TConsumer> : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    public WebhookEventConsumerDefinition()
    {
        ConcurrentMessageLimit = 8;
        Endpoint(e => e.PrefetchCount = 16);
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<TConsumer> consumerConfigurator,
        IRegistrationContext context) =>
        endpointConfigurator.UsePlatformRetry();
}
