namespace CrewPlatform.Webhooks.Persistence;

/// <summary>The log of one POST of a delivery: what came back, or why nothing did.</summary>
public sealed class DeliveryAttempt
{
    public long Id { get; set; }

    public Guid DeliveryId { get; set; }

    public int Attempt { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    public int? StatusCode { get; set; }

    public string? Error { get; set; }

    public long DurationMs { get; set; }

    /// <summary>The start of the receiver's answer, capped.</summary>
    public string? ResponseBody { get; set; }
}
