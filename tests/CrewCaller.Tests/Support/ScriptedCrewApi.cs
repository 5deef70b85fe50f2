using System.Collections.Concurrent;
using System.Net;
using System.Text;
using CrewPlatform.CrewCaller.CrewApi;

namespace CrewPlatform.CrewCaller.Tests.Support;

/// <summary>A stand-in <see cref="ICrewApi"/> for harness tests: answers each call with the next scripted step, then with the fallback.</summary>
public sealed class ScriptedCrewApi : ICrewApi
{
    private readonly ConcurrentQueue<Func<CancellationToken, Task<HttpResponseMessage>>> steps = new();
    private readonly ConcurrentQueue<CrewRequest> requests = new();
    private readonly ConcurrentQueue<string> idempotencyKeys = new();

    public Func<CancellationToken, Task<HttpResponseMessage>> Fallback { get; set; } = _ => Task.FromResult(Json(HttpStatusCode.OK, """{"Questions":[]}"""));

    public int Calls => requests.Count;

    public IReadOnlyList<CrewRequest> Requests => [.. requests];

    /// <summary>The <c>Idempotency-Key</c> of every call, in order.</summary>
    public IReadOnlyList<string> IdempotencyKeys => [.. idempotencyKeys];

    public ScriptedCrewApi Then(Func<CancellationToken, Task<HttpResponseMessage>> step)
    {
        steps.Enqueue(step);
        return this;
    }

    public ScriptedCrewApi ThenAnswer(HttpStatusCode status, string body = """{"detail":"scripted"}""", TimeSpan? retryAfter = null) =>
        Then(_ =>
        {
            var response = Json(status, body);
            if (retryAfter is { } delay)
            {
                response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(delay);
            }

            return Task.FromResult(response);
        });

    public ScriptedCrewApi ThenHang() => Then(async cancellationToken =>
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
        throw new InvalidOperationException("unreachable");
    });

    public ScriptedCrewApi ThenRefuseConnection() =>
        Then(_ => throw new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused (crew.test:8000)"));

    public Task<HttpResponseMessage> RunCrewAsync(CrewRequest request, string idempotencyKey, CancellationToken cancellationToken)
    {
        idempotencyKeys.Enqueue(idempotencyKey);
        requests.Enqueue(request);
        return steps.TryDequeue(out var step) ? step(cancellationToken) : Fallback(cancellationToken);
    }

    public static HttpResponseMessage Json(HttpStatusCode status, string body, string mediaType = "application/json") =>
        new(status) { Content = new StringContent(body, Encoding.UTF8, mediaType) };
}
