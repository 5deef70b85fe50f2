using Microsoft.Extensions.Options;

namespace CrewPlatform.CrewCaller.Persistence;

/// <summary>
/// Renews the leases of every claim this instance works on, every third of <c>CREW_CLAIM_LEASE_SECONDS</c>, in one
/// statement. A call may last ten minutes while the lease is short: a killed instance is then taken over quickly, and
/// a live one is never taken over however long its call runs.
/// </summary>
public sealed partial class ClaimHeartbeat(
    ActiveClaims claims,
    CrewCallLedger ledger,
    IOptions<CrewCallerOptions> options,
    TimeProvider timeProvider,
    ILogger<ClaimHeartbeat> logger) : BackgroundService
{
    private readonly TimeSpan lease = options.Value.ClaimLease;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(lease / 3, timeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await BeatAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task BeatAsync(CancellationToken stoppingToken)
    {
        var working = claims.Snapshot();
        if (working.Count == 0)
        {
            return;
        }

        try
        {
            await ledger.RenewLeasesAsync(working, lease, stoppingToken);
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            // The database may be down for a while; the next beat tries again, and after a restart of PostgreSQL
            // nobody takes a claim over before the holders had a whole lease to renew it.
            LogRenewalFailed(logger, ex, working.Count);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not renew the leases of {Claims} crew call claim(s); retrying at the next beat")]
    private static partial void LogRenewalFailed(ILogger logger, Exception exception, int claims);
}
