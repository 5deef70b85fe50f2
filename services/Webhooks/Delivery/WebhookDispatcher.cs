using Microsoft.Extensions.Options;

namespace CrewPlatform.Webhooks.Delivery;

/// <summary>
/// Sends due deliveries: a few loops, each claiming one delivery at a time from PostgreSQL, POSTing it and recording
/// the outcome. Idle loops poll every <c>WEBHOOKS_POLL_MS</c>. Everything it knows is in the database, so a restarted or
/// second replica carries on where this one stopped.
/// </summary>
public sealed partial class WebhookDispatcher(
    DeliveryQueue queue,
    IHttpClientFactory clients,
    TimeProvider clock,
    IOptions<WebhooksOptions> options,
    ILogger<WebhookDispatcher> logger) : BackgroundService
{
    /// <summary>Deliveries in flight per replica: one slow receiver must not hold back everyone else's.</summary>
    public const int Senders = 4;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, Senders).Select(_ => Task.Run(() => SendLoopAsync(stoppingToken), CancellationToken.None)));

    private async Task SendLoopAsync(CancellationToken stoppingToken)
    {
        var sender = new WebhookSender(clients.CreateClient(WebhookSender.HttpClientName), clock);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await queue.ClaimNextAsync(stoppingToken) is { } delivery)
                {
                    await SendAsync(sender, delivery, stoppingToken);
                    continue;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // PostgreSQL away, most likely: whatever was claimed comes back when its lease runs out.
                LogQueueUnavailable(logger, ex, ex.Message);
            }

            try
            {
                await Task.Delay(options.Value.PollInterval, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task SendAsync(WebhookSender sender, ClaimedDelivery delivery, CancellationToken stoppingToken)
    {
        AttemptOutcome outcome;
        try
        {
            outcome = await sender.SendAsync(delivery, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Not an attempt that failed: the service stops. The next replica sends it, under the same webhook-id.
            await queue.ReleaseAsync(delivery);
            throw;
        }

        LogAttempt(logger, delivery.WebhookId, delivery.Attempt, outcome.StatusCode, outcome.Error, outcome.DurationMs);
        if (await queue.RecordAsync(delivery, outcome, CancellationToken.None) is { } disabledReason)
        {
            LogDisabled(logger, delivery.SubscriptionId, disabledReason);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook {WebhookId} attempt {Attempt}: status {StatusCode}, error {Error}, {DurationMs} ms")]
    private static partial void LogAttempt(ILogger logger, string webhookId, int attempt, int? statusCode, string? error, long durationMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook subscription {SubscriptionId} disabled: {Reason}")]
    private static partial void LogDisabled(ILogger logger, Guid subscriptionId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook delivery failed to claim or record: {Reason}")]
    private static partial void LogQueueUnavailable(ILogger logger, Exception exception, string reason);
}
