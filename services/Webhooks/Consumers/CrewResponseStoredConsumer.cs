using CrewPlatform.Contracts;
using CrewPlatform.Webhooks.Delivery;
using MassTransit;

namespace CrewPlatform.Webhooks.Consumers;

/// <summary>
/// Every stored answer is a <c>crew-response.stored</c>, one per user of a run, so they are taken a batch at a time:
/// one statement per batch. The ResponseStore announces an answer again when its message is redelivered, so the
/// event is keyed by the stored row, not by the message.
/// </summary>
public sealed class CrewResponseStoredConsumer(DeliveryQueue queue) : IConsumer<Batch<CrewResponseStored>>
{
    public Task Consume(ConsumeContext<Batch<CrewResponseStored>> context) =>
        queue.EnqueueAsync(
            context.Message
                .Select(item => item.Message)
                .Select(stored => new WebhookEvent<CrewResponseStored>(
                    $"{WebhookEventTypes.CrewResponseStored}:{stored.ResponseId}", WebhookEventTypes.CrewResponseStored, stored.StoredAt, stored, Segment: null))
                .ToList(),
            context.CancellationToken);
}
