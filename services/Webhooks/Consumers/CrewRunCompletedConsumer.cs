using CrewPlatform.Contracts;
using CrewPlatform.Webhooks.Delivery;
using MassTransit;

namespace CrewPlatform.Webhooks.Consumers;

/// <summary>A completed run becomes <c>run.failed</c> when every dispatched user failed, <c>run.completed</c> otherwise.</summary>
public sealed class CrewRunCompletedConsumer(DeliveryQueue queue) : IConsumer<CrewRunCompleted>
{
    public Task Consume(ConsumeContext<CrewRunCompleted> context)
    {
        var run = context.Message;
        var type = run.Failed > 0 && run.Succeeded == 0 ? WebhookEventTypes.RunFailed : WebhookEventTypes.RunCompleted;

        // Keyed by the completion's time: a run completed again after retry-failed is a new event, a redelivery is not.
        var eventId = $"{type}:{run.RunId:N}:{run.CompletedAt.ToUnixTimeMilliseconds()}";
        return queue.EnqueueAsync([new WebhookEvent<CrewRunCompleted>(eventId, type, run.CompletedAt, run, run.Segment)], context.CancellationToken);
    }
}
