using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using MassTransit;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Scheduler.Runs;

/// <summary>Starts a run: writes its row, then publishes its first <see cref="UserBatchDue"/> page.</summary>
public sealed partial class RunStarter(
    SchedulerDbContext db,
    IPublishEndpoint publishEndpoint,
    IOptions<SchedulerOptions> options,
    TimeProvider time,
    ILogger<RunStarter> logger)
{
    private readonly SchedulerOptions settings = options.Value;

    public Run NewRun(string trigger, DateTimeOffset? dueAt, string status)
    {
        var now = time.GetUtcNow();
        return new Run
        {
            Id = NewId.NextGuid(),
            Trigger = trigger,
            DueAt = dueAt,
            StartedAt = now,
            Status = status,
            CompletedAt = status == RunStatus.Skipped ? now : null,
            LastProgressAt = now,
        };
    }

    /// <summary>A run-now: starts at once, whatever the overlap policy, because an operator asked for it explicitly.</summary>
    public async Task<Run> StartManualAsync(CancellationToken cancellationToken)
    {
        var run = NewRun(RunTrigger.Manual, dueAt: null, RunStatus.Running);
        db.Runs.Add(run);
        await db.SaveChangesAsync(cancellationToken);
        LogManualRun(logger, run.Id);
        await PublishFirstPageAsync(run, cancellationToken);
        return run;
    }

    /// <summary>
    /// Published after the run row is committed, so the page consumer always finds its run. Should the publish fail
    /// (or this process die before it), the run stays running with no page recorded, and the reconciler publishes the
    /// first page once the fan-out has stalled: the run is not lost, and does not block the schedule for good.
    /// </summary>
    public async Task PublishFirstPageAsync(Run run, CancellationToken cancellationToken)
    {
        try
        {
            await publishEndpoint.Publish(
                new UserBatchDue { RunId = run.Id, AfterUserUid = null, PageSize = settings.PageSize, PageNumber = 1 },
                cancellationToken);
        }
        catch (Exception ex)
        {
            LogPublishFailed(logger, ex, run.Id, settings.FanOutStallSeconds);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Manual run {RunId} started")]
    private static partial void LogManualRun(ILogger logger, Guid runId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish the first page of run {RunId}; the reconciler re-drives it once it has stalled for {StallSeconds} s")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, Guid runId, int stallSeconds);
}
