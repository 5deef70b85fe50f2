using System.Globalization;
using System.Text.Json;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Runs;
using CrewPlatform.Scheduler.Scheduling;
using CrewPlatform.ServiceDefaults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Scheduler.Apis;

public sealed record RunSummary(
    Guid Id, string Status, string Trigger, DateTimeOffset? DueAt, DateTimeOffset StartedAt, DateTimeOffset? CompletedAt,
    int Dispatched, int Succeeded, int Failed, int Skipped);

public sealed record SchedulerStatus(bool IsRunning, int IntervalMinutes, string ApiUrl, DateTimeOffset? NextRunAt, RunSummary? LastRun);

public sealed record FailedUser(string UserUid, string? Reason);

public sealed record RunDetails(
    Guid Id, string Status, string Trigger, DateTimeOffset? DueAt, DateTimeOffset StartedAt, DateTimeOffset? CompletedAt,
    int Dispatched, int Succeeded, int Failed, int Skipped, bool FanOutCompleted, IReadOnlyList<FailedUser> FailedUsers);

public sealed record RunAccepted(Guid RunId, string StatusUrl);

public sealed record RetryAccepted(Guid RunId, int Retried, string StatusUrl);

/// <summary><c>/api/scheduler</c>: the original's status and start/stop/run-now actions, plus run tracking.</summary>
public static class SchedulerApi
{
    public const int DefaultRunsLimit = 20;
    public const int MaxRunsLimit = 1000;

    /// <summary>A run's details list at most this many failed users, so a run that failed for everyone stays readable.</summary>
    public const int MaxFailedUsersListed = 1000;

    private const string ValidActions = "Valid actions: start, stop, run-now";

    public static IEndpointRouteBuilder MapSchedulerApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/scheduler");
        api.MapGet("/", GetStatusAsync);
        api.MapPost("/", PostActionAsync);
        api.MapGet("/runs", ListRunsAsync);
        api.MapGet("/runs/{id}", GetRunAsync);
        api.MapPost("/runs/{id}/retry-failed", RetryFailedAsync);
        return app;
    }

    public static async Task<IResult> GetStatusAsync(ScheduleService schedule, SchedulerDbContext db, IOptions<SchedulerOptions> options, CancellationToken cancellationToken)
    {
        var state = await schedule.GetAsync(cancellationToken);
        return ApiResults.Ok(await StatusAsync(state, db, options.Value, cancellationToken));
    }

    public static async Task<IResult> PostActionAsync(
        HttpRequest request, ScheduleService schedule, RunStarter runStarter, SchedulerDbContext db, IOptions<SchedulerOptions> options,
        CancellationToken cancellationToken)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
        }
        catch (JsonException)
        {
            return ApiResults.BadRequest("Request body is not valid JSON");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return ApiResults.BadRequest("Request body must be a JSON object");
            }

            var body = document.RootElement;
            var hasAction = body.TryGetProperty("action", out var actionElement) && actionElement.ValueKind != JsonValueKind.Null;
            var action = actionElement.ValueKind == JsonValueKind.String && JsonShape.TryGetString(actionElement, out var text) ? text : null;
            if (!hasAction || action?.Length == 0)
            {
                return ApiResults.BadRequest($"Action is required. {ValidActions}");
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
                    var run = await runStarter.StartManualAsync(cancellationToken);
                    var statusUrl = $"/api/scheduler/runs/{run.Id}";
                    return ApiResults.Accepted(statusUrl, new RunAccepted(run.Id, statusUrl), "Run started");

                default:
                    return ApiResults.BadRequest($"Invalid action. {ValidActions}");
            }
        }
    }

    public static async Task<IResult> ListRunsAsync(string? limit, string? offset, SchedulerDbContext db, CancellationToken cancellationToken)
    {
        var take = DefaultRunsLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out take) || take < 1 || take > MaxRunsLimit))
        {
            return ApiResults.BadRequest($"limit must be a whole number from 1 to {MaxRunsLimit}");
        }

        var skip = 0;
        if (offset is not null && !int.TryParse(offset, NumberStyles.None, CultureInfo.InvariantCulture, out skip))
        {
            return ApiResults.BadRequest("offset must be a whole number of 0 or more");
        }

        var runs = await db.Runs.AsNoTracking()
            .OrderByDescending(r => r.StartedAt).ThenByDescending(r => r.Id)
            .Skip(skip).Take(take)
            .Select(r => new RunSummary(r.Id, r.Status, r.Trigger, r.DueAt, r.StartedAt, r.CompletedAt, r.Dispatched, r.Succeeded, r.Failed, r.Skipped))
            .ToListAsync(cancellationToken);
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
            run.Dispatched, run.Succeeded, run.Failed, run.Skipped, run.FanOutCompleted, failedUsers));
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
        var lastRun = await db.Runs.AsNoTracking()
            .OrderByDescending(r => r.StartedAt).ThenByDescending(r => r.Id)
            .Select(r => new RunSummary(r.Id, r.Status, r.Trigger, r.DueAt, r.StartedAt, r.CompletedAt, r.Dispatched, r.Succeeded, r.Failed, r.Skipped))
            .FirstOrDefaultAsync(cancellationToken);
        return new SchedulerStatus(state.IsRunning, state.IntervalMinutes, settings.ApiUrl, state.IsRunning ? state.NextDueAt : null, lastRun);
    }

    /// <summary>
    /// The original's rule (missing or not greater than 0 is one message) plus what it let through: a fraction,
    /// a string or a boolean, and more than a week.
    /// </summary>
    private static (int Minutes, string? Error) ParseInterval(JsonElement body)
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
