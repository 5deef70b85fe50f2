using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using CrewPlatform.Contracts;

namespace CrewPlatform.Webhooks.Consumers;

/// <summary>
/// The data of a <c>crew-response.stored</c> or <c>crew-response.changed</c> webhook: the fields
/// <c>crew-response.stored</c> has always had (<c>runId</c> ... <c>durationMs</c>, in that order), what the answer is
/// compared with, and where to read it. The answer itself only for a subscription that asks for it; the change
/// summary only in <c>crew-response.changed</c>. Fields the event did not carry (an older message's) are null.
/// </summary>
public sealed record CrewResponseWebhookData
{
    public const string NotEvaluated = "not-evaluated";

    public required Guid RunId { get; init; }

    public required string UserUid { get; init; }

    public required int ResponseId { get; init; }

    public required DateTimeOffset StoredAt { get; init; }

    public decimal? Cost { get; init; }

    public long? DurationMs { get; init; }

    /// <summary>The crew endpoint the answer came from.</summary>
    public string? Endpoint { get; init; }

    /// <summary>Whether it differs from the user's previous answer on the endpoint; null for the first one there.</summary>
    public bool? Changed { get; init; }

    public int? PreviousResponseId { get; init; }

    /// <summary>The answer in the platform's API: <c>GET /api/crew-responses/{id}</c> through the gateway.</summary>
    public required string AnswerUrl { get; init; }

    /// <summary>The answer's size in bytes of UTF-8.</summary>
    public int? AnswerBytes { get; init; }

    /// <summary><c>crew-response.changed</c> only: what changed since <see cref="PreviousResponseId"/>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public AnswerChangeSummary? Changes { get; init; }

    /// <summary>The answer as a JSON value, for a subscription with <c>includeAnswer</c>, when the event carried it.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonElement? Answer { get; init; }

    /// <summary><see cref="NotEvaluated"/> for a subscription with a <c>jsonPath</c>, when the event did not carry the answer to evaluate it on.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Filter { get; init; }

    public static CrewResponseWebhookData Of(CrewResponseStored stored) => new()
    {
        RunId = stored.RunId,
        UserUid = stored.UserUid,
        ResponseId = stored.ResponseId,
        StoredAt = stored.StoredAt,
        Cost = stored.Cost,
        DurationMs = stored.DurationMs,
        Endpoint = stored.Endpoint,
        Changed = stored.Changed,
        PreviousResponseId = stored.PreviousResponseId,
        AnswerUrl = $"/api/crew-responses/{stored.ResponseId}",
        AnswerBytes = stored.AnswerBytes,
    };

    /// <summary>
    /// The answer the event carried, as JSON; null when it carried none, or one over
    /// <see cref="CrewResponseStored.AnswerInlineLimitBytes"/> or not JSON (then it is treated as not carried).
    /// </summary>
    public static JsonElement? CarriedAnswer(CrewResponseStored stored)
    {
        if (stored.Answer is not { } text || Encoding.UTF8.GetByteCount(text) > CrewResponseStored.AnswerInlineLimitBytes)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
