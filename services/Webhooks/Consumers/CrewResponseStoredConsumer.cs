using CrewPlatform.Contracts;
using CrewPlatform.Webhooks.Delivery;
using MassTransit;

namespace CrewPlatform.Webhooks.Consumers;

/// <summary>
/// Every stored answer is a <c>crew-response.stored</c>. The ResponseStore announces an answer again when its message
/// is redelivered, so the event is keyed by the stored row, not by the message.
/// </summary>
public sealed class CrewResponseStoredConsumer(DeliveryQueue queue) : IConsumer<CrewResponseStored>
{
    public Task Consume(ConsumeContext<CrewResponseStored> context)
    {
        var stored = context.Message;
        return queue.EnqueueAsync(
            $"{WebhookEventTypes.CrewResponseStored}:{stored.ResponseId}", WebhookEventTypes.CrewResponseStored, stored.StoredAt, stored,
            segment: null, context.CancellationToken);
    }
}
