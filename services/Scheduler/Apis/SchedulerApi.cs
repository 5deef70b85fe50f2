using System.Globalization;
using System.Text.Json;
using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Runs;
using CrewPlatform.Scheduler.Scheduling;
using CrewPlatform.ServiceDefaults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Scheduler.Apis;

public sealed record RunSummary(
    Guid Id, string Status, string Trigger, DateTimeOffset? DueAt, DateTimeOffset StartedAt, DateTimeOffset? CompletedAt,
    int Dispatched, int Succeeded, int Failed, int Skipped, int? ScheduleId, string? Segment, string Endpoint, string Priority);

public sealed record SchedulerStatus(bool IsRunning, int IntervalMinutes, string ApiUrl, DateTimeOffset? NextRunAt, RunSummary? LastRun);

public sealed record FailedUser(string UserUid, string? Reason);

public sealed record RunDetails(
    Guid Id, string Status, string Trigger, DateTimeOffset? DueAt, DateTimeOffset StartedAt, DateTimeOffset? CompletedAt,
    int Dispatched, int Succeeded, int Failed, int Skipped, bool FanOutCompleted, IReadOnlyList<FailedUser> FailedUsers,
    int? ScheduleId, string? Segment, string Endpoint, string Priority);

public sealed record RunAccepted(Guid RunId, string StatusUrl);

public sealed record RetryAccepted(Guid RunId, int Retried, string StatusUrl);

/// <summary><c>/api/scheduler</c>: the original's status and start/stop/run-now actions, plus run tracking.</summary>
public static class SchedulerApi
{
    public const int DefaultRunsLimit = 20;
    public const int MaxRunsLimit = 1000;

    /// <summary>A run's details list at most this many failed users, so a run that failed for everyone stays readable.</summary>
    public const int MaxFailedUsersListed = 1000;

    /// <summary>A run-now of listed users takes at most this many uids.</summary>
    public const int MaxRunNowUsers = 10_000;

    private const int MaxUnknownUidsListed = 100;

    private const string ValidActions = "Valid actions: start, stop, run-now";

    /// <summary>The fields each action takes; any other is refused (400) before anything starts.</summary>
    private static readonly Dictionary<string, string[]> ActionFields = new(StringComparer.Ordinal)
    {
        ["start"] = ["action", "intervalMinutes"],
        ["stop"] = ["action"],
        ["run-now"] = ["action", "scheduleId", "segment", "endpoint", "priority", "userUids"],
    };

    public static IEndpointRouteBuilder MapSchedulerApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/scheduler").WithTags("Scheduler");
        api.MapGet("/", GetStatusAsync)
            .WithName("getSchedulerStatus").WithSummary("The default schedule: running or not, its interval, next run and last run")
            .ProducesEnvelope<SchedulerStatus>();
        api.MapPost("/", PostActionAsync)
            .WithName("postSchedulerAction").WithSummary("Start or stop the default schedule, or start a run now")
            .WithDescription("`start` (with `intervalMinutes`) and `stop` answer 200 with the status; `run-now` (optionally with `scheduleId`, "
                + "or `segment` with `endpoint` and `priority`, or `userUids`) answers 202 with the run's id and where to follow it. "
                + "A field the action does not take is refused (400) before anything starts.")
            .ProducesEnvelope<SchedulerStatus>().ProducesEnvelope<RunAccepted>(StatusCodes.Status202Accepted)
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        api.MapGet("/runs", ListRunsAsync)
            .WithName("listRuns").WithSummary("Runs, newest first, optionally of one schedule, endpoint or segment")
            .ProducesEnvelope<List<RunSummary>>().ProducesErrors(StatusCodes.Status400BadRequest);
        api.MapGet("/runs/{id}", GetRunAsync)
            .WithName("getRun").WithSummary($"One run: its counters and up to {MaxFailedUsersListed} failed users with their reasons")
            .ProducesEnvelope<RunDetails>().ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        api.MapPost("/runs/{id}/retry-failed", RetryFailedAsync)
            .WithName("retryFailedUsers").WithSummary("Call the crew again for a completed run's failed users; the run reopens")
            .ProducesEnvelope<RetryAccepted>(StatusCodes.Status202Accepted)
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);
        app.MapSchedulesApi();
        return app;
    }

    public static async Task<IResult> GetStatusAsync(ScheduleService schedule, SchedulerDbContext db, IOptions<SchedulerOptions> options, CancellationToken cancellationToken)
    {
        var state = await schedule.GetAsync(cancellationToken);
        return ApiResults.Ok(await StatusAsync(state, db, options.Value, cancellationToken));
    }

    public static async Task<IResult> PostActionAsync(
        HttpRequest request, ScheduleService schedule, RunStarter runStarter, SchedulerDbContext db, IOptions<SchedulerOptions> options,
        HostUsers users, CancellationToken cancellationToken)
    {
        var (document, bodyError) = await JsonBody.ReadObjectAsync(request, cancellationToken);
        if (bodyError is not null)
        {
            return ApiResults.BadRequest(bodyError);
        }

        using (document)
        {
            var body = document!.RootElement;
            var hasAction = body.TryGetProperty("action", out var actionElement) && actionElement.ValueKind != JsonValueKind.Null;
            var action = actionElement.ValueKind == JsonValueKind.String && JsonShape.TryGetString(actionElement, out var text) ? text : null;
            if (!hasAction || action?.Length == 0)
            {
                return ApiResults.BadRequest($"Action is required. {ValidActions}");
            }

            if (action is not null && ActionFields.TryGetValue(action, out var fields) && JsonShape.UnknownFields(body, action, fields) is { } unknownError)
            {
                return ApiResults.BadRequest(unknownError);
            }

            switch (action)
            {
                case "start":
                    var (interval, error) = ParseInterval(body);
                    if (error is not null)
                    {
                        return ApiResults.BadRequest(error);
                    }

                    var started = await schedule.StartAsync(interval, cancellationToken);
                    return ApiResults.Ok(
                        await StatusAsync(started, db, options.Value, cancellationToken),
                        $"Scheduler started with interval: {started.IntervalMinutes.ToString(CultureInfo.InvariantCulture)} minutes");

                case "stop":
                    var stopped = await schedule.StopAsync(cancellationToken);
                    return ApiResults.Ok(await StatusAsync(stopped, db, options.Value, cancellationToken), "Scheduler stopped");

                case "run-now":
                    var (target, uids, runNowError) = await RunNowTargetAsync(body, schedule, users, options.Value, cancellationToken);
                    if (runNowError is not null)
                    {
                        return runNowError;
                    }

                    var run = uids is null
                        ? await runStarter.StartManualAsync(target!, cancellationToken)
                        : await runStarter.StartForUsersAsync(target!, uids, cancellationToken);
                    var statusUrl = $"/api/scheduler/runs/{run.Id}";
                    return ApiResults.Accepted(statusUrl, new RunAccepted(run.Id, statusUrl), "Run started");

                default:
                    return ApiResults.BadRequest($"Invalid action. {ValidActions}");
            }
        }
    }

    public static async Task<IResult> ListRunsAsync(
        string? limit, string? offset, string? scheduleId, string? endpoint, string? segment, SchedulerDbContext db, CancellationToken cancellationToken)
    {
        var take = DefaultRunsLimit;
        if (limit is not null && (!WholeNumber.TryParse(limit, out take) || take < 1 || take > MaxRunsLimit))
        {
            return ApiResults.BadRequest($"limit must be a whole number from 1 to {MaxRunsLimit}");
        }

        var skip = 0;
        if (offset is not null && !WholeNumber.TryParse(offset, out skip))
        {
            return ApiResults.BadRequest("offset must be a whole number of 0 or more");
        }

        var query = db.Runs.AsNoTracking();
        if (scheduleId is not null)
        {
            if (!WholeNumber.TryParse(scheduleId, out var schedule))
            {
                return ApiResults.BadRequest("scheduleId must be a whole number");
            }

            query = query.Where(r => r.ScheduleId == schedule);
        }

        if (endpoint is not null)
        {
            if (!CrewEndpointDefinition.IsValidName(endpoint))
            {
                return ApiResults.BadRequest("endpoint must be an endpoint name: 1 to 40 lower-case letters, digits and dashes");
            }

            query = query.Where(r => r.Endpoint == endpoint);
        }

        if (segment is not null)
        {
            if (!SegmentDefinition.IsValidName(segment))
            {
                return ApiResults.BadRequest("segment must be a segment name: 1 to 64 lower-case letters, digits, dashes and underscores");
            }

            query = query.Where(r => r.Segment == segment);
        }

        var runs = await RunSummaries(query).Skip(skip).Take(take).ToListAsync(cancellationToken);
        return ApiResults.Ok(runs, count: runs.Count);
    }

    public static async Task<IResult> GetRunAsync(string id, SchedulerDbContext db, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var runId))
        {
            return ApiResults.BadRequest("Invalid run ID");
        }

        var run = await db.Runs.AsNoTracking().SingleOrDefaultAsync(r => r.Id == runId, cancellationToken);
        if (run is null)
        {
            return ApiResults.NotFound("Run not found");
        }

        var failedUsers = await db.RunUsers.AsNoTracking()
            .Where(u => u.RunId == runId && u.Status == RunUserStatus.Failed)
            .OrderBy(u => u.UserUid)
            .Take(MaxFailedUsersListed)
            .Select(u => new FailedUser(u.UserUid, u.Reason))
            .ToListAsync(cancellationToken);

        return ApiResults.Ok(new RunDetails(
            run.Id, run.Status, run.Trigger, run.DueAt, run.StartedAt, run.CompletedAt,
            run.Dispatched, run.Succeeded, run.Failed, run.Skipped, run.FanOutCompleted, failedUsers,
            run.ScheduleId, run.Segment, run.Endpoint, run.Priority));
    }

    /// <summary>Replays a completed run's failed users (the crew caller calls again for them); 409 while the run is running.</summary>
    public static async Task<IResult> RetryFailedAsync(string id, FailedUserRetry retry, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var runId))
        {
            return ApiResults.BadRequest("Invalid run ID");
        }

        var result = await retry.RetryAsync(runId, cancellationToken);
        var statusUrl = $"/api/scheduler/runs/{runId}";
        return result.Outcome switch
        {
            RetryFailedOutcome.RunNotFound => ApiResults.NotFound("Run not found"),
            RetryFailedOutcome.RunStillRunning => ApiResults.Error(
                StatusCodes.Status409Conflict, "Run is still running; retry its failed users once it has completed"),
            _ => ApiResults.Accepted(
                statusUrl,
                new RetryAccepted(runId, result.Retried, statusUrl),
                $"Retrying {result.Retried.ToString(CultureInfo.InvariantCulture)} failed users"),
        };
    }

    private static async Task<SchedulerStatus> StatusAsync(ScheduleState state, SchedulerDbContext db, SchedulerOptions settings, CancellationToken cancellationToken)
    {
        var lastRun = await RunSummaries(db.Runs.AsNoTracking().Where(r => r.ScheduleId == state.Id)).FirstOrDefaultAsync(cancellationToken);
        return new SchedulerStatus(state.IsRunning, state.IntervalMinutes, settings.ApiUrl, state.IsRunning ? state.NextDueAt : null, lastRun);
    }

    /// <summary>Runs newest first, as the API shows them.</summary>
    public static IQueryable<RunSummary> RunSummaries(IQueryable<Run> runs) =>
        runs.OrderByDescending(r => r.StartedAt).ThenByDescending(r => r.Id)
            .Select(r => new RunSummary(
                r.Id, r.Status, r.Trigger, r.DueAt, r.StartedAt, r.CompletedAt, r.Dispatched, r.Succeeded, r.Failed, r.Skipped,
                r.ScheduleId, r.Segment, r.Endpoint, r.Priority));

    /// <summary>
    /// What a run-now runs: the default schedule's users; <c>scheduleId</c>: that schedule's segment, endpoint and
    /// priority; <c>segment</c> (with optional <c>endpoint</c> and <c>priority</c>); or <c>userUids</c>, up to
    /// <see cref="MaxRunNowUsers"/> uids that must all be in the users table (the unknown ones are named in the 400).
    /// </summary>
    private static async Task<(RunTarget? Target, IReadOnlyList<HostUser>? Users, IResult? Error)> RunNowTargetAsync(
        JsonElement body, ScheduleService schedules, HostUsers users, SchedulerOptions settings, CancellationToken cancellationToken)
    {
        static (RunTarget?, IReadOnlyList<HostUser>?, IResult?) Fail(string error) => (null, null, ApiResults.BadRequest(error));

        var given = new[] { "scheduleId", "segment", "userUids" }.Where(name => body.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null).ToList();
        if (given.Count > 1)
        {
            return Fail("run-now takes at most one of scheduleId, segment and userUids");
        }

        var (segment, segmentError) = SchedulesApi.OptionalString(body, "segment");
        var (endpoint, endpointError) = SchedulesApi.OptionalString(body, "endpoint");
        var (priority, priorityError) = SchedulesApi.OptionalString(body, "priority");
        if ((segmentError ?? endpointError ?? priorityError) is { } fieldError)
        {
            return Fail(fieldError);
        }

        if (SchedulesApi.CheckTarget(segment, endpoint, users, settings) is { } targetError)
        {
            return Fail(targetError);
        }

        if (priority is not null && !CrewPriority.All.Contains(priority))
        {
            return Fail("priority must be 'high' or 'normal'");
        }

        if (body.TryGetProperty("scheduleId", out var idElement) && idElement.ValueKind != JsonValueKind.Null)
        {
            if (endpoint is not null || priority is not null)
            {
                return Fail("A run-now of a schedule takes the schedule's endpoint and priority");
            }

            if (idElement.ValueKind != JsonValueKind.Number || !idElement.TryGetInt32(out var scheduleId) || scheduleId < 1)
            {
                return Fail("scheduleId must be a whole number of 1 or more");
            }

            return await schedules.GetAsync(scheduleId, cancellationToken) is { } schedule
                ? (RunTarget.Of(schedule), null, null)
                : (null, null, ApiResults.NotFound("Schedule not found"));
        }

        if (!body.TryGetProperty("userUids", out var uidsElement) || uidsElement.ValueKind == JsonValueKind.Null)
        {
            return segment is null && endpoint is null && priority is null
                ? (new RunTarget(ScheduleState.DefaultId, SegmentDefinition.All, CrewEndpointNames.Default, CrewPriority.Normal), null, null)
                : (new RunTarget(null, segment ?? SegmentDefinition.All, endpoint ?? CrewEndpointNames.Default, priority ?? CrewPriority.Normal), null, null);
        }

        if (uidsElement.ValueKind != JsonValueKind.Array || uidsElement.GetArrayLength() is 0 or > MaxRunNowUsers
            || uidsElement.EnumerateArray().Any(u => u.ValueKind != JsonValueKind.String || !JsonShape.TryGetString(u, out var uid) || uid.Length is 0 or > 255))
        {
            return Fail($"userUids must be an array of 1 to {MaxRunNowUsers} non-empty strings of at most 255 characters");
        }

        var uids = uidsElement.EnumerateArray().Select(u => u.GetString()!).Distinct(StringComparer.Ordinal).ToList();
        var found = await users.ReadByUidsAsync(uids, cancellationToken);
        var unknown = uids.Where(uid => !found.ContainsKey(uid)).ToList();
        if (unknown.Count > 0)
        {
            var listed = string.Join(", ", unknown.Take(MaxUnknownUidsListed));
            var more = unknown.Count > MaxUnknownUidsListed ? $" and {unknown.Count - MaxUnknownUidsListed} more" : "";
            return Fail($"{unknown.Count} unknown user uids: {listed}{more}");
        }

        var target = new RunTarget(null, null, endpoint ?? CrewEndpointNames.Default, priority ?? CrewPriority.Normal);
        return (target, uids.Select(uid => found[uid]).ToList(), null);
    }

    /// <summary>
    /// The original's rule (missing or not greater than 0 is one message) plus what it let through: a fraction,
    /// a string or a boolean, and more than a week.
    /// </summary>
    public static (int Minutes, string? Error) ParseInterval(JsonElement body)
    {
        const string required = "intervalMinutes is required and must be greater than 0";
        const string wholeNumber = "intervalMinutes must be a whole number of minutes";
        var tooLarge = $"intervalMinutes must be at most {SchedulerOptions.MaxIntervalMinutes} (one week)";

        if (!body.TryGetProperty("intervalMinutes", out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return (0, required);
        }

        if (element.ValueKind != JsonValueKind.Number)
        {
            return (0, wholeNumber);
        }

        if (!element.TryGetDecimal(out var value))
        {
            // Beyond decimal's range: a huge magnitude either way.
            return (0, element.GetRawText().StartsWith('-') ? required : tooLarge);
        }

        return value switch
        {
            <= 0 => (0, required),
            _ when value != decimal.Truncate(value) => (0, wholeNumber),
            > SchedulerOptions.MaxIntervalMinutes => (0, tooLarge),
            _ => ((int)value, null),
        };
    }
}
