using CrewPlatform.ServiceDefaults;
using MassTransit;

namespace CrewPlatform.Webhooks.Consumers;

/// <summary>
/// The endpoint shape of every event the webhooks turn into deliveries (each message is one INSERT ... SELECT). The
/// queue is named <c>webhooks-&lt;event&gt;</c>: other services consume the same events on queues of their own (the
/// Scheduler's <c>crew-response-stored</c>), and a shared queue would split the events between them.
/// </summary>
public class WebhookEventConsumerDefinition<TConsumer> : EventConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    public const string QueuePrefix = "webhooks-";

    public WebhookEventConsumerDefinition() =>
        EndpointName = QueuePrefix + KebabCaseEndpointNameFormatter.Instance.Consumer<TConsumer>();
}
