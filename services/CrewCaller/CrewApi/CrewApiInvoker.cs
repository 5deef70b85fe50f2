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
            // Refit wraps the HttpRequestException in its ApiRequestException; a stand-in ICrewApi may throw it bare.
            var reason = $"connection error: {http.HttpRequestError}";
            return http.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError
                ? CrewAttemptResult.Unreachable(reason)
                : CrewAttemptResult.Transient((int?)http.StatusCode, reason);
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

        if (await ReadCappedAsync(response.Content, settings.MaxResponseBytes, cancellationToken) is not { } bytes)
        {
            return CrewAttemptResult.Permanent(status, $"body larger than {settings.MaxResponseBytes} bytes");
        }

        // Checked on the bytes (no document is built) and decoded once, without copying the bytes for a BOM.
        var body = bytes.AsSpan();
        if (body.StartsWith(Utf8Bom))
        {
            body = body[Utf8Bom.Length..];
        }

        return JsonShape.IsObjectOrArray(body)
            ? CrewAttemptResult.Answered(status, Encoding.UTF8.GetString(body))
            : CrewAttemptResult.Permanent(status, "non-JSON body");
    }

    /// <summary>
    /// The body, or null when it is larger than <paramref name="maxBytes"/>. A body of announced length is read straight
    /// into an array of that size (the handler ends a body cut short with an IOException); any other is read in
    /// chunks up to the cap.
    /// </summary>
    private static async Task<byte[]?> ReadCappedAsync(HttpContent content, long maxBytes, CancellationToken cancellationToken)
    {
        var length = content.Headers.ContentLength;
        if (length > maxBytes)
        {
            return null;
        }

        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        if (length is not { } announced)
        {
            return await CappedRead.ReadAsync(stream, maxBytes, cancellationToken);
        }

        var bytes = new byte[announced];
        await stream.ReadExactlyAsync(bytes, cancellationToken);
        return bytes;
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
