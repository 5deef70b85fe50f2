using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using CrewPlatform.ServiceDefaults;
using StandardWebhooks;

namespace CrewPlatform.Webhooks.Delivery;

/// <summary>One signed POST of a delivery (Standard Webhooks: <c>webhook-id</c>, <c>webhook-timestamp</c>, <c>webhook-signature</c>).</summary>
public sealed class WebhookSender(HttpClient client, TimeProvider clock)
{
    public const string HttpClientName = "webhooks";

    /// <summary>How much of a receiver's answer is read back and logged: enough to see an error, never a flood.</summary>
    public const int MaxResponseBytes = 4 * 1024;

    public async Task<AttemptOutcome> SendAsync(ClaimedDelivery delivery, CancellationToken cancellationToken)
    {
        var startedAt = clock.GetUtcNow();
        var stopwatch = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url)
        {
            Content = new StringContent(delivery.Payload, Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
        };

        // Signed at each attempt with its own timestamp, so a receiver's replay window holds for retries hours later.
        request.Headers.Add("webhook-id", delivery.WebhookId);
        request.Headers.Add("webhook-timestamp", startedAt.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", new StandardWebhook(delivery.Secret).Sign(delivery.WebhookId, startedAt, delivery.Payload));
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            var body = await ReadCappedAsync(response, cancellationToken);
            var status = (int)response.StatusCode;
            var error = response.IsSuccessStatusCode ? null : $"HTTP {status}";
            return new AttemptOutcome(startedAt, stopwatch.ElapsedMilliseconds, status, error, body);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is HttpRequestException or TaskCanceledException or RefusedTargetException)
        {
            var error = ex switch
            {
                TaskCanceledException => $"timed out after {client.Timeout.TotalSeconds:0.#} s",
                _ when FindRefusal(ex) is { } refused => refused.Message,
                _ => ex.Message,
            };
            return new AttemptOutcome(startedAt, stopwatch.ElapsedMilliseconds, null, error, null);
        }
    }

    private static RefusedTargetException? FindRefusal(Exception? ex) => ex switch
    {
        null => null,
        RefusedTargetException refused => refused,
        _ => FindRefusal(ex.InnerException),
    };

    private static async Task<string?> ReadCappedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[MaxResponseBytes];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken)) > 0)
        {
            length += read;
        }

        // The rest is never read: the connection is dropped rather than drained.
        return length == 0 ? null : Encoding.UTF8.GetString(buffer, 0, length);
    }
}
