namespace CrewPlatform.Webhooks.Persistence;

/// <summary>One event for one subscription: sent until the receiver answers 2xx, under one webhook-id.</summary>
public sealed class WebhookDelivery
{
    /// <summary>The delivery's id; <c>msg_</c> and this is its <c>webhook-id</c>, the receiver's key to dedupe by.</summary>
    public Guid Id { get; set; }

    public Guid SubscriptionId { get; set; }

    /// <summary>The fact's own key (e.g. <c>run.completed:{runId}</c>): a redelivered event finds its row and adds none.</summary>
    public required string EventId { get; set; }

    public required string EventType { get; set; }

    /// <summary>The JSON body exactly as signed and sent on every attempt.</summary>
    public required string Payload { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public int Attempts { get; set; }

    /// <summary>When the next attempt is due; null once delivered.</summary>
    public DateTimeOffset? NextAttemptAt { get; set; }

    /// <summary>While set and in the future, one replica is sending it.</summary>
    public DateTimeOffset? LeaseUntil { get; set; }

    public DateTimeOffset? DeliveredAt { get; set; }

    public string WebhookId => $"msg_{Id:N}";
}
