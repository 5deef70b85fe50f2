using Refit;

namespace CrewPlatform.CrewCaller.CrewApi;

/// <summary>
/// The external crew API. The client's base address is <c>CREW_API_URL</c> itself (path included), so the method's
/// relative path is empty. The answer comes back as the raw response: the body is forwarded byte for byte and its
/// size is capped while reading, neither of which a deserialized result would allow.
/// Every attempt carries <c>Idempotency-Key: &lt;runId&gt;:&lt;userUid&gt;</c>: should a retry reach a crew API that
/// already ran the first attempt (the answer lost on the way back), it can answer from what it did instead of running
/// the crew and billing it again.
/// </summary>
public interface ICrewApi
{
    [Post("")]
    Task<HttpResponseMessage> RunCrewAsync(
        [Body(buffered: true)] CrewRequest request,
        [Header("Idempotency-Key")] string idempotencyKey,
        CancellationToken cancellationToken);
}
