namespace CrewPlatform.Webhooks.Persistence;

/// <summary>An endpoint that receives the events it names, signed with its own secret.</summary>
public sealed class Subscription
{
    public Guid Id { get; set; }

    public required string Url { get; set; }

    /// <summary>The event types sent to it (<see cref="Delivery.WebhookEventTypes"/>).</summary>
    public required string[] EventTypes { get; set; }

    /// <summary>Only runs of this segment, when set.</summary>
    public string? Segment { get; set; }

    /// <summary>
    /// An SQL/JSON path predicate: the subscription's <c>crew-response.*</c> deliveries are made only for answers it
    /// matches (<c>answer @@ json_path</c>, in the enqueue's statement); other event types are not filtered.
    /// </summary>
    public string? JsonPath { get; set; }

    /// <summary>Whether its <c>crew-response.*</c> deliveries carry the answer itself (when the event carried it, at most 256 KB).</summary>
    public bool IncludeAnswer { get; set; }

    /// <summary>The Standard Webhooks secret, <c>whsec_</c> and base64: shown once, at create and at rotate.</summary>
    public required string Secret { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Since when every attempt has failed; cleared by any successful delivery.</summary>
    public DateTimeOffset? FailingSince { get; set; }

    public DateTimeOffset? DisabledAt { get; set; }

    public string? DisabledReason { get; set; }
}
