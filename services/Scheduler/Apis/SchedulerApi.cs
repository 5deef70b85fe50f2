using System.Globalization;
using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Runs;
using CrewPlatform.Scheduler.Scheduling;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.ServiceDefaults.Audit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Scheduler.Apis;

public sealed record SchedulerStatus(bool IsRunning, int IntervalMinutes, string ApiUrl, DateTimeOffset? NextRunAt, RunSummary? LastRun);

public sealed record RunAccepted(Guid RunId, string StatusUrl);

public sealed record RetryAccepted(Guid RunId, int Retried, string StatusUrl);

/// <summary>
/// <c>/api/scheduler</c>: the original's status and start/stop/run-now actions, plus run tracking. Bodies, ids and
/// query strings bind to the types of <see cref="SchedulerAction"/>'s file, which refuse bad input with the contract's
/// envelope, so the handlers see only well-formed values.
/// </summary>
public static class SchedulerApi
{
    /// <summary>A run's details list at most this many failed users, so a run that failed for everyone stays readable.</summary>
    public const int MaxFailedUsersListed = 1000;

    private const int MaxUnknownUidsListed = 100;

    public static IEndpointRouteBuilder MapSchedulerApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/scheduler").WithTags("Scheduler");
        api.MapGet("/", GetStatusAsync)
            .WithName("getSchedulerStatus").WithSummary("The default schedule: running or not, its interval, next run and last run")
            .ProducesEnvelope<SchedulerStatus>();
        api.MapPost("/", PostActionAsync)
            .WithName("postSchedulerAction").WithSummary("Start or stop the default schedule, or start a run now")
            .WithDescription("`start` (with `intervalMinutes`, and optionally the default schedule's `skipUnchanged`) and `stop` answer 200 "
                + "with the status; `run-now` (optionally with `scheduleId`, "
                + "or `segment` with `endpoint` and `priority`, or `userUids`; and `maxCallsPerRun`, `maxSpendPerRun`, `maxSpendPerDay` and "
                + "`skipUnchanged: {\"freshForMinutes\": N}` (1 to 525600; null: call everyone), "
                + "which override its schedule's) answers 202 with the run's id and where to follow it, or with `dryRun: true` 200 with "
                + "a preview of its users, calls, spend and duration (users left out as `unchanged` counted apart), starting nothing. "
                + "A field the action does not take is refused (400) before anything starts.")
            .Accepts<SchedulerAction>("application/json")
            .ProducesEnvelope<SchedulerStatus>().ProducesEnvelope<RunAccepted>(StatusCodes.Status202Accepted)
            .ProducesEnvelope<RunPreviewView>()
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge);
        api.MapGet("/runs", ListRunsAsync)
            .WithName("listRuns").WithSummary("Runs, newest first, optionally of one schedule, endpoint or segment")
            .ProducesEnvelope<List<RunSummary>>().ProducesErrors(StatusCodes.Status400BadRequest);
        api.MapGet("/runs/{id}", GetRunAsync)
            .WithName("getRun").WithSummary($"One run: its counters, spend and up to {MaxFailedUsersListed} failed and skipped users with their reasons")
            .ProducesEnvelope<RunDetails>().ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        api.MapPost("/runs/{id}/retry-failed", RetryFailedAsync)
            .WithName("retryFailedUsers").WithSummary("Call the crew again for a completed or cancelled run's failed users; the run reopens")
            .WithDescription("With `?dryRun=true`, 200 with a preview of the users, calls, spend and duration, changing nothing.")
            .ProducesEnvelope<RetryAccepted>(StatusCodes.Status202Accepted).ProducesEnvelope<RunPreviewView>()
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);
        api.MapPost("/runs/{id}/cancel", CancelAsync)
            .WithName("cancelRun").WithSummary("Cancel a running run: users not yet called are recorded as cancelled, calls in flight finish")
            .ProducesEnvelope<RunAccepted>(StatusCodes.Status202Accepted)
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);
        return app;
    }

    public static async Task<IResult> GetStatusAsync(ScheduleService schedule, SchedulerDbContext db, IOptions<SchedulerOptions> options, CancellationToken cancellationToken)
    {
        var state = await schedule.GetAsync(cancellationToken);
        return ApiResults.Ok(await StatusAsync(state, db, options.Value, cancellationToken));
    }

    public static async Task<IResult> PostActionAsync(
        SchedulerAction action, ScheduleService schedule, RunStarter runStarter, SchedulerDbContext db, IOptions<SchedulerOptions> options,
        HostUsers users, RunPreview preview, AuditTrail audit, HttpRequest request, CancellationToken cancellationToken)
    {
        switch (action.Action)
        {
            case SchedulerAction.Start:
                if (action.SkipUnchanged is { Given: true } skipUnchanged)
                {
                    await schedule.ChangeAsync(ScheduleState.DefaultId, s => s.SkipUnchangedForMinutes = skipUnchanged.FreshForMinutes, cancellationToken);
                }

                var started = await schedule.StartAsync(action.IntervalMinutes!.Value, cancellationToken);
                await audit.RecordAsync(request, AuditActions.ScheduleStart, AuditTargets.Schedule(started.Id));
                return ApiResults.Ok(
                    await StatusAsync(started, db, options.Value, cancellationToken),
                    $"Scheduler started with interval: {started.IntervalMinutes.ToString(CultureInfo.InvariantCulture)} minutes");

            case SchedulerAction.Stop:
                var stopped = await schedule.StopAsync(CrewActor.Of(request), cancellationToken);
                await audit.RecordAsync(request, AuditActions.ScheduleStop, AuditTargets.Schedule(stopped.Id));
                return ApiResults.Ok(await StatusAsync(stopped, db, options.Value, cancellationToken), "Scheduler stopped");

            default:
                ConfiguredTarget.Check(action.Segment, action.Endpoint, users, options.Value);
                if (await RunNowTargetAsync(action, schedule, cancellationToken) is not { } target)
                {
                    return ApiResults.NotFound("Schedule not found");
                }

                var listed = action.UserUids is { } uids ? await KnownUsersAsync(uids, users, cancellationToken) : null;
                if (action.DryRun)
                {
                    var selected = listed is null
                        ? await preview.SegmentUsersAsync(target.Segment, target.Endpoint, target.SkipUnchangedForMinutes, cancellationToken)
                        : await preview.ListedUsersAsync(listed, target.Endpoint, target.SkipUnchangedForMinutes, cancellationToken);
                    return ApiResults.Ok(await preview.PreviewAsync(selected, target.Endpoint, target.Limits?.MaxCallsPerRun, cancellationToken));
                }

                var run = listed is not null
                    ? await runStarter.StartForUsersAsync(target, listed, cancellationToken)
                    : await runStarter.StartManualAsync(target, cancellationToken);
                await audit.RecordAsync(request, AuditActions.RunStart, AuditTargets.Run(run.Id));
                var statusUrl = $"/api/scheduler/runs/{run.Id}";
                return ApiResults.Accepted(statusUrl, new RunAccepted(run.Id, statusUrl), "Run started");
        }
    }

    public static async Task<IResult> ListRunsAsync(
        [AsParameters] RunsQuery query, SchedulerDbContext db, IOptions<SchedulerOptions> options, CancellationToken cancellationToken)
    {
        var runs = db.Runs.AsNoTracking();
        if (query.ScheduleId?.Value is { } scheduleId)
        {
            runs = runs.Where(r => r.ScheduleId == scheduleId);
        }

        if (query.Endpoint?.Value is { } endpoint)
        {
            runs = runs.Where(r => r.Endpoint == endpoint);
        }

        if (query.Segment?.Value is { } segment)
        {
            runs = runs.Where(r => r.Segment == segment);
        }

        var page = await RunViews.NewestFirst(runs, options.Value.CostCurrency).Skip(query.Offset.Value).Take(query.Limit.Value).ToListAsync(cancellationToken);
        return ApiResults.Ok(page, count: page.Count);
    }

    public static async Task<IResult> GetRunAsync(RunId runId, SchedulerDbContext db, IOptions<SchedulerOptions> options, CancellationToken cancellationToken)
    {
        var run = await db.Runs.AsNoTracking().SingleOrDefaultAsync(r => r.Id == runId.Value, cancellationToken);
        if (run is null)
        {
            return ApiResults.NotFound("Run not found");
        }

        var failedUsers = await db.RunUsers.AsNoTracking()
            .Where(u => u.RunId == runId.Value && u.Status == RunUserStatus.Failed)
            .OrderBy(u => u.UserUid)
            .Take(MaxFailedUsersListed)
            .Select(u => new FailedUser(u.UserUid, u.Reason))
            .ToListAsync(cancellationToken);
        var skippedUsers = await db.RunUsers.AsNoTracking()
            .Where(u => u.RunId == runId.Value && u.Status == RunUserStatus.Skipped && u.Reason != null)
            .OrderBy(u => u.UserUid)
            .Take(MaxFailedUsersListed)
            .Select(u => new SkippedUser(u.UserUid, u.Reason!))
            .ToListAsync(cancellationToken);

        return ApiResults.Ok(new RunDetails(
            run.Id, run.Status, run.Trigger, run.DueAt, run.StartedAt, run.CompletedAt,
            run.Dispatched, run.Succeeded, run.Failed, run.Skipped, run.FanOutCompleted, failedUsers,
            run.ScheduleId, run.Segment, run.Endpoint, run.Priority,
            run.Cancelled, run.Spent, options.Value.CostCurrency, run.BudgetExhausted, run.CancelRequestedAt,
            run.MaxCallsPerRun, run.MaxSpendPerRun, run.MaxSpendPerDay, run.SkipReason, skippedUsers,
            run.Unchanged, SkipUnchanged.Of(run.SkipUnchangedForMinutes)));
    }

    /// <summary>Cancels a running run; 409 once it has finished, 202 again for a run already cancelling.</summary>
    public static async Task<IResult> CancelAsync(
        RunId runId, RunCancellation cancellation, AuditTrail audit, HttpRequest request, CancellationToken cancellationToken)
    {
        var statusUrl = $"/api/scheduler/runs/{runId.Value}";
        switch (await cancellation.CancelAsync(runId.Value, cancellationToken))
        {
            case CancelOutcome.RunNotFound:
                return ApiResults.NotFound("Run not found");
            case CancelOutcome.AlreadyFinished:
                return ApiResults.Error(StatusCodes.Status409Conflict, "Run has already finished");
            default:
                await audit.RecordAsync(request, AuditActions.RunCancel, AuditTargets.Run(runId.Value));
                return ApiResults.Accepted(statusUrl, new RunAccepted(runId.Value, statusUrl), "Run cancelling");
        }
    }

    /// <summary>Replays a completed run's failed users (the crew caller calls again for them), or previews it; 409 while the run is running.</summary>
    public static async Task<IResult> RetryFailedAsync(
        RunId runId, DryRunFlag dryRun, FailedUserRetry retry, SchedulerDbContext db, RunPreview preview, AuditTrail audit, HttpRequest request,
        CancellationToken cancellationToken)
    {
        if (dryRun.Value)
        {
            var run = await db.Runs.AsNoTracking().SingleOrDefaultAsync(r => r.Id == runId.Value, cancellationToken);
            return run switch
            {
                null => ApiResults.NotFound("Run not found"),
                { Status: RunStatus.Running } => StillRunning(),
                _ => ApiResults.Ok(await preview.PreviewAsync(
                    await preview.FailedUsersAsync(run.Id, cancellationToken), run.Endpoint, run.MaxCallsPerRun, cancellationToken)),
            };
        }

        var result = await retry.RetryAsync(runId.Value, cancellationToken);
        if (result.Outcome is not (RetryFailedOutcome.RunNotFound or RetryFailedOutcome.RunStillRunning))
        {
            await audit.RecordAsync(request, AuditActions.RunRetryFailed, AuditTargets.Run(runId.Value), new { result.Retried });
        }

        var statusUrl = $"/api/scheduler/runs/{runId.Value}";
        return result.Outcome switch
        {
            RetryFailedOutcome.RunNotFound => ApiResults.NotFound("Run not found"),
            RetryFailedOutcome.RunStillRunning => StillRunning(),
            _ => ApiResults.Accepted(
                statusUrl,
                new RetryAccepted(runId.Value, result.Retried, statusUrl),
                $"Retrying {result.Retried.ToString(CultureInfo.InvariantCulture)} failed users"),
        };
    }

    private static IResult StillRunning() =>
        ApiResults.Error(StatusCodes.Status409Conflict, "Run is still running; retry its failed users once it has completed");

    private static async Task<SchedulerStatus> StatusAsync(ScheduleState state, SchedulerDbContext db, SchedulerOptions settings, CancellationToken cancellationToken) =>
        new(state.IsRunning, state.IntervalMinutes, settings.ApiUrl, state.IsRunning ? state.NextDueAt : null,
            await RunViews.LastRunAsync(db, state.Id, settings.CostCurrency, cancellationToken));

    /// <summary>
    /// The run-now's target, or null when its schedule does not exist. A run of a schedule (the default one too) takes
    /// the schedule's budget and skipUnchanged, with the limits and the skipUnchanged the body gives in their place.
    /// </summary>
    private static async Task<RunTarget?> RunNowTargetAsync(SchedulerAction runNow, ScheduleService schedules, CancellationToken cancellationToken)
    {
        var target = await ScheduleTargetAsync(runNow, schedules, cancellationToken);
        if (target is null)
        {
            return null;
        }

        target = runNow.Limits is not { } limits ? target : target with { Limits = limits.Over(target.Limits ?? RunLimits.None) };
        return runNow.SkipUnchanged is not { } skip ? target : target with { SkipUnchangedForMinutes = skip.Over(target.SkipUnchangedForMinutes) };
    }

    private static async Task<RunTarget?> ScheduleTargetAsync(SchedulerAction runNow, ScheduleService schedules, CancellationToken cancellationToken)
    {
        if (runNow.ScheduleId is { } scheduleId)
        {
            return await schedules.GetAsync(scheduleId, cancellationToken) is { } schedule ? RunTarget.Of(schedule) : null;
        }

        var endpoint = runNow.Endpoint ?? CrewEndpointNames.Default;
        var priority = runNow.Priority ?? CrewPriority.Normal;
        return runNow.UserUids is not null ? new RunTarget(null, null, endpoint, priority)
            : runNow is { Segment: null, Endpoint: null, Priority: null } ? RunTarget.Of(await schedules.GetAsync(cancellationToken))
            : new RunTarget(null, runNow.Segment ?? SegmentDefinition.All, endpoint, priority);
    }

    /// <summary>The listed users, all of whom must be in the users table: the unknown ones are named in the 400.</summary>
    private static async Task<IReadOnlyList<HostUser>> KnownUsersAsync(IReadOnlyList<string> uids, HostUsers users, CancellationToken cancellationToken)
    {
        var found = await users.ReadByUidsAsync(uids, cancellationToken);
        var unknown = uids.Where(uid => !found.ContainsKey(uid)).ToList();
        if (unknown.Count > 0)
        {
            var listed = string.Join(", ", unknown.Take(MaxUnknownUidsListed));
            var more = unknown.Count > MaxUnknownUidsListed ? $" and {unknown.Count - MaxUnknownUidsListed} more" : "";
            throw new InvalidRequestException($"{unknown.Count} unknown user uids: {listed}{more}");
        }

        return uids.Select(uid => found[uid]).ToList();
    }
}
