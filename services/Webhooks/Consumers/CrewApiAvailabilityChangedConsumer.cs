using CrewPlatform.Contracts;
using CrewPlatform.Webhooks.Delivery;
using MassTransit;

namespace CrewPlatform.Webhooks.Consumers;

/// <summary>A crew endpoint's circuit opening is <c>crew-api.unavailable</c>; closing again, <c>crew-api.recovered</c>.</summary>
public sealed class CrewApiAvailabilityChangedConsumer(DeliveryQueue queue) : IConsumer<CrewApiAvailabilityChanged>
{
    public Task Consume(ConsumeContext<CrewApiAvailabilityChanged> context)
    {
        var change = context.Message;
        var type = change.Available ? WebhookEventTypes.CrewApiRecovered : WebhookEventTypes.CrewApiUnavailable;
        return queue.EnqueueAsync(
            [new WebhookEvent<CrewApiAvailabilityChanged>($"{type}:{change.Endpoint}:{change.ChangedAt.ToUnixTimeMilliseconds()}", type, change.ChangedAt, change, Segment: null)],
            context.CancellationToken);
    }
}
