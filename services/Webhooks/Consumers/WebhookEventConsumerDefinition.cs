using CrewPlatform.ServiceDefaults;
using MassTransit;

namespace CrewPlatform.Webhooks.Consumers;

/// <summary>
/// The endpoint shape of every event the webhooks turn into deliveries (each message, or batch, is one INSERT ...
/// SELECT): 8 at once (more would only queue on PostgreSQL), a prefetch of twice that, and the platform retry. The
/// queue is named <c>webhooks-&lt;event&gt;</c>: other services consume the same events on queues of their own (the
/// Scheduler's <c>crew-response-stored</c>), and a shared queue would split the events between them.
/// </summary>
public class WebhookEventConsumerDefinition<TConsumer> : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    public const string QueuePrefix = "webhooks-";

    public WebhookEventConsumerDefinition()
    {
        EndpointName = QueuePrefix + KebabCaseEndpointNameFormatter.Instance.Consumer<TConsumer>();
        ConcurrentMessageLimit = 8;
        Endpoint(e => e.PrefetchCount = 16);
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<TConsumer> consumerConfigurator,
        IRegistrationContext context) =>
        endpointConfigurator.UsePlatformRetry();
}
