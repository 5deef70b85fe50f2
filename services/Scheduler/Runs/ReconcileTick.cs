using Coravel.Invocable;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Scheduler.Runs;

/// <summary>
/// Paces the reconciler at <c>CREW_SCHEDULER_RECONCILE_SECONDS</c>. Coravel's per-second schedules cover only 1 to 59
/// seconds, and the interval may be up to an hour, so the tick runs every second and asks this whether a pass is due.
/// One per process; which replica's pass does the work is the advisory lock's business.
/// </summary>
public sealed class ReconcilePacer(IOptions<SchedulerOptions> options, TimeProvider time)
{
    private readonly SchedulerOptions settings = options.Value;

    private readonly Lock gate = new();
    private DateTimeOffset nextPassAt = DateTimeOffset.MinValue;

    public bool TryStartPass()
    {
        var now = time.GetUtcNow();
        lock (gate)
        {
            if (now < nextPassAt)
            {
                return false;
            }

            nextPassAt = now.AddSeconds(settings.ReconcileSeconds);
            return true;
        }
    }
}

/// <summary>Coravel's tick for the reconciler; all the logic lives in <see cref="RunReconciler.ReconcileAsync"/>.</summary>
public sealed partial class ReconcileTick(RunReconciler reconciler, ReconcilePacer pacer, SchedulerMetrics metrics, ILogger<ReconcileTick> logger)
    : IInvocable, ICancellableInvocable
{
    public CancellationToken CancellationToken { get; set; }

    public async Task Invoke()
    {
        if (!pacer.TryStartPass())
        {
            return;
        }

        try
        {
            metrics.ReconcilerPassed(await reconciler.ReconcileAsync(CancellationToken));
        }
        catch (Exception ex) when (!CancellationToken.IsCancellationRequested)
        {
            // Every step of a pass is safe to repeat, so the next pass simply tries again.
            LogPassFailed(logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Run reconciler pass failed")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);
}
