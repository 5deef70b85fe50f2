using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Apis;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Scheduler.Runs;

/// <summary>
/// Whom a run calls, where and within which limits: a schedule's segment, endpoint, priority, budget and skipUnchanged
/// (null: every user is called), or those of a run-now.
/// </summary>
public sealed record RunTarget(
    int? ScheduleId, string? Segment, string Endpoint, string Priority, RunLimits? Limits = null, int? SkipUnchangedForMinutes = null)
{
    public static RunTarget Of(ScheduleState schedule) =>
        new(schedule.Id, schedule.Segment, schedule.Endpoint, schedule.Priority, RunLimits.Of(schedule), schedule.SkipUnchangedForMinutes);
}

/// <summary>Starts a run: writes its row, then publishes its first <see cref="UserBatchDue"/> page.</summary>
public sealed partial class RunStarter(
    SchedulerDbContext db,
    IPublishEndpoint publishEndpoint,
    RunCrewCommands commands,
    RunProgress progress,
    UnchangedUsers unchangedUsers,
    IOptions<SchedulerOptions> options,
    TimeProvider time,
    SchedulerMetrics metrics,
    ILogger<RunStarter> logger)
{
    private readonly SchedulerOptions settings = options.Value;

    public Run NewRun(string trigger, DateTimeOffset? dueAt, string status, RunTarget target, string? skipReason = null)
    {
        var now = time.GetUtcNow();
        var limits = target.Limits ?? RunLimits.None;
        if (limits != RunLimits.None)
        {
            metrics.BudgetWatched(target.ScheduleId);
        }

        return new Run
        {
            Id = NewId.NextGuid(),
            Trigger = trigger,
            DueAt = dueAt,
            StartedAt = now,
            Status = status,
            CompletedAt = status == RunStatus.Skipped ? now : null,
            LastProgressAt = now,
            ScheduleId = target.ScheduleId,
            Segment = target.Segment,
            Endpoint = target.Endpoint,
            Priority = target.Priority,
            MaxCallsPerRun = limits.MaxCallsPerRun,
            MaxSpendPerRun = limits.MaxSpendPerRun,
            MaxSpendPerDay = limits.MaxSpendPerDay,
            SkipUnchangedForMinutes = target.SkipUnchangedForMinutes,
            SkipReason = skipReason,
        };
    }

    /// <summary>A run-now of the default schedule.</summary>
    public Task<Run> StartManualAsync(CancellationToken cancellationToken) =>
        StartManualAsync(new RunTarget(ScheduleState.DefaultId, SegmentDefinition.All, CrewEndpointNames.Default, CrewPriority.Normal), cancellationToken);

    /// <summary>A run-now: starts at once, whatever the overlap policy, because an operator asked for it explicitly.</summary>
    public async Task<Run> StartManualAsync(RunTarget target, CancellationToken cancellationToken)
    {
        var run = NewRun(RunTrigger.Manual, dueAt: null, RunStatus.Running, target);
        using var activity = CrewTracing.Scheduler.StartRunActivity("run-now", run.Id);
        db.Runs.Add(run);
        await db.SaveChangesAsync(cancellationToken);
        LogManualRun(logger, run.Id, target.Segment, target.Endpoint);
        await PublishFirstPageAsync(run, cancellationToken);
        return run;
    }

    /// <summary>
    /// A run-now of listed users: the run and all its users are recorded in one transaction with the fan-out already
    /// complete (there is no table walk), then their commands are sent page by page. Should the sending fail or this
    /// process die, the reconciler re-sends the commands of users still without an outcome. Users are classified as a
    /// fan-out's page is (<see cref="UnchangedUsers"/>): an unchanged one is recorded so and not sent.
    /// </summary>
    public async Task<Run> StartForUsersAsync(RunTarget target, IReadOnlyList<HostUser> users, CancellationToken cancellationToken)
    {
        var run = NewRun(RunTrigger.Manual, dueAt: null, RunStatus.Running, target);
        using var activity = CrewTracing.Scheduler.StartRunActivity("run-now", run.Id);
        run.FanOutCompleted = true;
        run.NextPageNumber = 0;
        var classified = new List<ClassifiedUser>(users.Count);
        foreach (var page in users.Chunk(settings.PageSize))
        {
            classified.AddRange(await unchangedUsers.ClassifyAsync(page, target.Endpoint, target.SkipUnchangedForMinutes, cancellationToken));
        }

        var recorded = users.Zip(classified, (user, c) => new RunUser
        {
            RunId = run.Id, UserUid = user.Uid, Endpoint = target.Endpoint, InputDigest = c.InputDigest,
            Status = !user.IsEligible ? RunUserStatus.Skipped : c.Unchanged ? RunUserStatus.Unchanged : RunUserStatus.Dispatched,
        }).ToList();
        run.Dispatched = recorded.Count(u => u.Status == RunUserStatus.Dispatched);
        run.Unchanged = recorded.Count(u => u.Status == RunUserStatus.Unchanged);
        run.Skipped = recorded.Count(u => u.Status == RunUserStatus.Skipped);
        db.Runs.Add(run);
        db.RunUsers.AddRange(recorded);
        await db.SaveChangesAsync(cancellationToken);
        LogUsersRun(logger, run.Id, users.Count, target.Endpoint);

        try
        {
            foreach (var page in recorded.Where(u => u.Status == RunUserStatus.Dispatched).Chunk(settings.PageSize))
            {
                await commands.SendAsync(
                    run.Id, page.Select(u => new DispatchedUser(u.UserUid, ReplayFailed: false)).ToList(), cancellationToken, firstSend: true);
            }

            // Users who were all skipped (or unchanged) get no outcome that could complete the run.
            if (await progress.TryCompleteAsync(run.Id, cancellationToken) is { } completed)
            {
                await progress.PublishCompletedAsync(publishEndpoint, completed, cancellationToken);
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            LogSendFailed(logger, ex, run.Id, settings.RedispatchAfterMinutes);
        }

        return run;
    }

    /// <summary>A page of a run's fan-out, carrying the run's segment, endpoint, priority and schedule.</summary>
    public static UserBatchDue Page(Run run, string? afterUserUid, int pageNumber, int pageSize) => new()
    {
        RunId = run.Id,
        AfterUserUid = afterUserUid,
        PageSize = pageSize,
        PageNumber = pageNumber,
        Segment = run.Segment,
        Endpoint = run.Endpoint,
        Priority = run.Priority,
        ScheduleId = run.ScheduleId,
    };

    /// <summary>
    /// Announces a skipped due time (for webhooks' <c>run.skipped</c>). After the commit, and best effort: a skip is a
    /// notice, not work the platform owes, so one lost while the broker is away is logged rather than re-driven.
    /// </summary>
    public async Task PublishSkippedAsync(Run run, CancellationToken cancellationToken)
    {
        try
        {
            await PlatformRetry.WithinAttemptTimeoutAsync(
                ct => publishEndpoint.Publish(
                    new CrewRunSkipped { RunId = run.Id, ScheduleId = run.ScheduleId, Segment = run.Segment, DueAt = run.DueAt ?? run.StartedAt }, ct),
                time, cancellationToken);
        }
        catch (Exception ex)
        {
            LogSkipNotAnnounced(logger, ex, run.Id);
        }
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
            await PlatformRetry.WithinAttemptTimeoutAsync(
                ct => publishEndpoint.Publish(Page(run, afterUserUid: null, pageNumber: 1, settings.PageSize), ct), time, cancellationToken);
        }
        catch (Exception ex)
        {
            LogPublishFailed(logger, ex, run.Id, settings.FanOutStallSeconds);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Skipped run {RunId} not announced")]
    private static partial void LogSkipNotAnnounced(ILogger logger, Exception exception, Guid runId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Manual run {RunId} started (segment {Segment}, endpoint {Endpoint})")]
    private static partial void LogManualRun(ILogger logger, Guid runId, string? segment, string endpoint);

    [LoggerMessage(Level = LogLevel.Information, Message = "Manual run {RunId} of {Users} listed users started (endpoint {Endpoint})")]
    private static partial void LogUsersRun(ILogger logger, Guid runId, int users, string endpoint);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: sending the listed users' commands failed; the reconciler sends them again after {Minutes} min without outcome")]
    private static partial void LogSendFailed(ILogger logger, Exception exception, Guid runId, int minutes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not publish the first page of run {RunId}; the reconciler re-drives it once it has stalled for {StallSeconds} s")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, Guid runId, int stallSeconds);
}
