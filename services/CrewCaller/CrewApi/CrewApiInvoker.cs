using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CrewPlatform.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace CrewPlatform.CrewCaller.CrewApi;

/// <summary>
/// Makes one attempt at the crew API and classifies it. The attempt's timeout is enforced here (the HttpClient
/// itself has none), and covers reading the body too, because a slow LLM may stall mid-answer.
/// </summary>
public sealed class CrewApiInvoker(IOptions<CrewCallerOptions> options, TimeProvider timeProvider)
{
    private static readonly byte[] Utf8Bom = [0xEF, 0xBB, 0xBF];

    private readonly CrewCallerOptions settings = options.Value;

    /// <param name="idempotencyKey">The same for every attempt of one (run, user): <c>&lt;runId&gt;:&lt;userUid&gt;</c>.</param>
    public async Task<CrewAttemptResult> AttemptAsync(CrewEndpoint endpoint, CrewRequest request, string idempotencyKey, CancellationToken cancellationToken)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(endpoint.AttemptTimeout);
        try
        {
            using var response = await endpoint.Api.RunCrewAsync(request, idempotencyKey, attempt.Token);
            return await ClassifyAsync(response, attempt.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return CrewAttemptResult.Transient(null, $"timed out after {endpoint.AttemptTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
        }
        catch (Exception ex) when ((ex as HttpRequestException ?? ex.InnerException as HttpRequestException) is { } http)
        {
            // A client built by RestService (a configured endpoint's) wraps the HttpRequestException in Refit's own.
            return CrewAttemptResult.Transient((int?)http.StatusCode, $"connection error: {http.HttpRequestError}");
        }
        catch (IOException)
        {
            return CrewAttemptResult.Transient(null, "connection error: the answer was cut off");
        }
    }

    private async Task<CrewAttemptResult> ClassifyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        if (!response.IsSuccessStatusCode)
        {
            return status switch
            {
                (int)HttpStatusCode.RequestTimeout or >= 500 => CrewAttemptResult.Transient(status, $"HTTP {status} from crew API", RetryAfter(response)),
                (int)HttpStatusCode.TooManyRequests => CrewAttemptResult.Transient(status, $"HTTP {status} from crew API", RetryAfter(response)),
                _ => CrewAttemptResult.Permanent(status, $"HTTP {status} from crew API"),
            };
        }

        var body = await ReadCappedAsync(response.Content, settings.MaxResponseBytes, cancellationToken);
        if (body is null)
        {
            return CrewAttemptResult.Permanent(status, $"body larger than {settings.MaxResponseBytes} bytes");
        }

        return JsonShape.IsObjectOrArray(body)
            ? CrewAttemptResult.Answered(status, Encoding.UTF8.GetString(body))
            : CrewAttemptResult.Permanent(status, "non-JSON body");
    }

    /// <summary>The body without a UTF-8 BOM, or null once it grows past <paramref name="maxBytes"/>.</summary>
    private static async Task<byte[]?> ReadCappedAsync(HttpContent content, long maxBytes, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > maxBytes)
        {
            return null;
        }

        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var bytes = await CappedRead.ReadAsync(stream, maxBytes, cancellationToken);
        return bytes is not null && bytes.AsSpan().StartsWith(Utf8Bom) ? bytes[Utf8Bom.Length..] : bytes;
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var status = response.StatusCode;
        if (status is not (HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable) || response.Headers.RetryAfter is not { } header)
        {
            return null;
        }

        return RetryAfterDelay(header, timeProvider.GetUtcNow());
    }

    internal static TimeSpan? RetryAfterDelay(RetryConditionHeaderValue header, DateTimeOffset now) =>
        header.Delta ?? (header.Date is { } date ? (date > now ? date - now : TimeSpan.Zero) : null);
}
