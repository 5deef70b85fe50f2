using CrewPlatform.Contracts;
using CrewPlatform.Webhooks.Delivery;
using MassTransit;

namespace CrewPlatform.Webhooks.Consumers;

/// <summary>
/// A completed run becomes <c>run.cancelled</c> when an operator cancelled it, else <c>run.failed</c> when every
/// dispatched user failed, else <c>run.completed</c>; a run whose budget ran out also sends <c>run.budget-exhausted</c>.
/// Every one carries the whole <see cref="CrewRunCompleted"/>, its status filled in for older messages.
/// </summary>
public sealed class CrewRunCompletedConsumer(DeliveryQueue queue) : IConsumer<CrewRunCompleted>
{
    public const string Completed = "completed";
    public const string Cancelled = "cancelled";

    public Task Consume(ConsumeContext<CrewRunCompleted> context)
    {
        var run = context.Message with { Status = context.Message.Status ?? Completed };
        var types = new List<string>(2)
        {
            run.Status == Cancelled ? WebhookEventTypes.RunCancelled
                : run.Failed > 0 && run.Succeeded == 0 ? WebhookEventTypes.RunFailed
                : WebhookEventTypes.RunCompleted,
        };
        if (run.BudgetExhausted)
        {
            types.Add(WebhookEventTypes.RunBudgetExhausted);
        }

        // Keyed by the completion's time: a run completed again after retry-failed is a new event, a redelivery is not.
        return queue.EnqueueAsync(
            types.Select(type => new WebhookEvent<CrewRunCompleted>(
                $"{type}:{run.RunId:N}:{run.CompletedAt.ToUnixTimeMilliseconds()}", type, run.CompletedAt, run, run.Segment)).ToList(),
            context.CancellationToken);
    }
}
