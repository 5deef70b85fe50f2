using Microsoft.Extensions.Options;

namespace CrewPlatform.ResponseStore.Retention;

/// <summary>
/// Runs <see cref="ResponseRetention.RunOnceAsync"/> at startup and then every
/// <c>CREW_RESPONSES_RETENTION_INTERVAL_MINUTES</c>, in every replica; which replica's pass does the work is the
/// advisory lock's business. Does nothing when no retention rule is set.
/// </summary>
public sealed partial class RetentionService(
    ResponseRetention retention,
    IOptions<ResponseStoreOptions> options,
    TimeProvider time,
    ILogger<RetentionService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.RetentionEnabled)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await retention.RunOnceAsync(time.GetUtcNow(), stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Each batch committed stays deleted; the next pass carries on with what is left.
                LogPassFailed(logger, ex);
            }

            try
            {
                await Task.Delay(TimeSpan.FromMinutes(settings.RetentionIntervalMinutes), time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Answer retention pass failed")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);
}
