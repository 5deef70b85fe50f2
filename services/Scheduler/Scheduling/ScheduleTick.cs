using Coravel.Invocable;

namespace CrewPlatform.Scheduler.Scheduling;

/// <summary>Coravel's every-few-seconds tick; all the logic lives in <see cref="ScheduleService.TickAsync"/>.</summary>
public sealed partial class ScheduleTick(ScheduleService schedule, ILogger<ScheduleTick> logger) : IInvocable, ICancellableInvocable
{
    public CancellationToken CancellationToken { get; set; }

    public async Task Invoke()
    {
        try
        {
            await schedule.TickAsync(CancellationToken);
        }
        catch (Exception ex) when (!CancellationToken.IsCancellationRequested)
        {
            // The next tick retries: the due time stays unclaimed until a tick gets through.
            LogTickFailed(logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Scheduler tick failed")]
    private static partial void LogTickFailed(ILogger logger, Exception exception);
}
