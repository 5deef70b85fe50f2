using CrewPlatform.Contracts;
using CrewPlatform.Webhooks.Delivery;
using MassTransit;

namespace CrewPlatform.Webhooks.Consumers;

/// <summary>A skipped due time is <c>run.skipped</c>.</summary>
public sealed class CrewRunSkippedConsumer(DeliveryQueue queue) : IConsumer<CrewRunSkipped>
{
    public Task Consume(ConsumeContext<CrewRunSkipped> context)
    {
        var skipped = context.Message;
        return queue.EnqueueAsync(
            [new WebhookEvent<CrewRunSkipped>($"{WebhookEventTypes.RunSkipped}:{skipped.RunId:N}", WebhookEventTypes.RunSkipped, skipped.DueAt, skipped, skipped.Segment)],
            context.CancellationToken);
    }
}
