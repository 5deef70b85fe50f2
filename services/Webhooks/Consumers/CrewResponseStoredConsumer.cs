using System.Text.Json;
using CrewPlatform.Contracts;
using CrewPlatform.Webhooks.Delivery;
using MassTransit;

namespace CrewPlatform.Webhooks.Consumers;

/// <summary>
/// Every stored answer is a <c>crew-response.stored</c>, and one that differs from the user's previous answer on the
/// same endpoint (<c>Changed</c> true, never false or unknown) also a <c>crew-response.changed</c>. One per user of a
/// run, so they are taken a batch at a time: one statement per batch. The ResponseStore announces an answer again when
/// its message is redelivered, so each event is keyed by the stored row, not by the message.
/// </summary>
public sealed class CrewResponseStoredConsumer(DeliveryQueue queue) : IConsumer<Batch<CrewResponseStored>>
{
    public Task Consume(ConsumeContext<Batch<CrewResponseStored>> context)
    {
        var events = new List<WebhookEvent<CrewResponseWebhookData>>(context.Message.Length);
        foreach (var stored in context.Message.Select(item => item.Message))
        {
            var data = CrewResponseWebhookData.Of(stored);
            var answer = CrewResponseWebhookData.CarriedAnswer(stored);
            events.Add(Event(WebhookEventTypes.CrewResponseStored, stored, data, answer));
            if (stored.Changed == true)
            {
                events.Add(Event(WebhookEventTypes.CrewResponseChanged, stored, data with { Changes = stored.Changes }, answer));
            }
        }

        return queue.EnqueueAsync(events, context.CancellationToken);
    }

    /// <summary>The event with what a subscription's <c>includeAnswer</c> or <c>jsonPath</c> makes of it.</summary>
    private static WebhookEvent<CrewResponseWebhookData> Event(string type, CrewResponseStored stored, CrewResponseWebhookData data, JsonElement? answer) =>
        new($"{type}:{stored.ResponseId}", type, stored.StoredAt, data, Segment: null)
        {
            About = answer is { } json
                ? new AnswerVariants<CrewResponseWebhookData>(stored.Answer, WithAnswer: data with { Answer = json }, NotEvaluated: null)
                : new AnswerVariants<CrewResponseWebhookData>(null, WithAnswer: null, NotEvaluated: data with { Filter = CrewResponseWebhookData.NotEvaluated }),
        };
}
