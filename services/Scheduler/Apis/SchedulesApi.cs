using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Scheduling;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.ServiceDefaults.Audit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Scheduler.Apis;

/// <summary>
/// A schedule as the API shows it. <c>intervalMinutes</c> is null on a cron schedule, <c>cron</c> and <c>timeZone</c>
/// null on an interval one; <c>nextRuns</c> are the next due times of a running schedule (none while paused).
/// </summary>
public sealed record ScheduleView(
    int Id, string Name, string Segment, string Endpoint, int? IntervalMinutes, string Overlap, string Priority,
    bool IsRunning, DateTimeOffset? NextRunAt, RunSummary? LastRun,
    int? MaxCallsPerRun, decimal? MaxSpendPerRun, decimal? MaxSpendPerDay, decimal SpentToday, decimal SpentThisMonth,
    bool BudgetExhaustedToday, string Currency, SkipUnchanged? SkipUnchanged,
    string? PauseNote, string? PausedBy, DateTimeOffset? PausedAt, DateTimeOffset? PausedUntil,
    string? Cron, string? TimeZone, string CatchUp, IReadOnlyList<NextRun> NextRuns);

/// <summary>One coming due time: in UTC, and in the schedule's time zone with that zone's offset then (UTC for an interval schedule).</summary>
public sealed record NextRun(DateTimeOffset Utc, DateTimeOffset Local);

/// <summary>Schedules as the API shows them: with their last run and what their runs spent today and this month.</summary>
public sealed class ScheduleViews(SchedulerDbContext db, ScheduleService schedules, IOptions<SchedulerOptions> options, TimeProvider time)
{
    /// <summary>How many coming due times a schedule shows.</summary>
    public const int NextRunsShown = 5;

    private readonly string currency = options.Value.CostCurrency;

    public async Task<List<ScheduleView>> ViewsAsync(IReadOnlyList<ScheduleState> list, CancellationToken cancellationToken)
    {
        var lastRuns = await RunViews.LastRunsAsync(db, list.Select(s => s.Id).ToList(), currency, cancellationToken);
        var spend = await RunViews.SpendAsync(db, list, time.GetUtcNow(), cancellationToken);
        return list.Select(schedule => View(schedule, lastRuns.GetValueOrDefault(schedule.Id), spend[schedule.Id])).ToList();
    }

    public async Task<ScheduleView> ViewAsync(ScheduleState schedule, CancellationToken cancellationToken) =>
        (await ViewsAsync([schedule], cancellationToken))[0];

    /// <summary>The schedule's next due time and the ones after it, as its cadence gives them.</summary>
    public static List<NextRun> NextRunsOf(ScheduleState schedule)
    {
        if (!schedule.IsRunning || schedule.NextDueAt is not { } next)
        {
            return [];
        }

        var cadence = ScheduleCadence.Of(schedule);
        return cadence.Upcoming(next, NextRunsShown)
            .Select(due => new NextRun(due.ToUniversalTime(), TimeZoneInfo.ConvertTime(due, cadence.Zone)))
            .ToList();
    }

    private ScheduleView View(ScheduleState schedule, RunSummary? lastRun, ScheduleSpend spend) =>
        new(schedule.Id, schedule.Name, schedule.Segment, schedule.Endpoint, schedule.Cron is null ? schedule.IntervalMinutes : null,
            schedules.OverlapOf(schedule).ToString().ToLowerInvariant(), schedule.Priority,
            schedule.IsRunning, schedule.IsRunning ? schedule.NextDueAt : null, lastRun,
            schedule.MaxCallsPerRun, schedule.MaxSpendPerRun, schedule.MaxSpendPerDay, spend.Today, spend.ThisMonth,
            spend.BudgetExhaustedToday, currency, Apis.SkipUnchanged.Of(schedule.SkipUnchangedForMinutes),
            schedule.PauseNote, schedule.PausedBy, schedule.PausedAt, schedule.PausedUntil,
            schedule.Cron, schedule.TimeZone, schedule.CatchUp, NextRunsOf(schedule));
}

/// <summary>
/// <c>/api/scheduler/schedules</c>: many schedules, each a configured segment of users called on a configured crew
/// endpoint every interval or at the times of a cron expression in a time zone, with its own overlap policy, catch-up and priority. Schedule 1 is the default schedule, the one
/// <c>/api/scheduler</c> acts on; it cannot be deleted. Bodies bind to <see cref="NewSchedule"/> and
/// <see cref="ScheduleChange"/>, ids to <see cref="ScheduleId"/>.
/// </summary>
public static class SchedulesApi
{
    public static IEndpointRouteBuilder MapSchedulesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/scheduler/schedules").WithTags("Schedules");
        api.MapGet("/", ListAsync)
            .WithName("listSchedules").WithSummary("Every schedule, the default one (1) first")
            .ProducesEnvelope<List<ScheduleView>>();
        api.MapPost("/", CreateAsync)
            .WithName("createSchedule").WithSummary("A new schedule: a configured segment on a configured crew endpoint, every interval or on a cron expression in a time zone")
            .Accepts<NewSchedule>("application/json")
            .ProducesEnvelope<ScheduleView>(StatusCodes.Status201Created)
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status409Conflict, StatusCodes.Status413PayloadTooLarge);
        api.MapGet("/{id}", GetAsync)
            .WithName("getSchedule").WithSummary("One schedule")
            .ProducesEnvelope<ScheduleView>().ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        api.MapMethods("/{id}", ["PATCH", "PUT"], ChangeAsync)
            .WithName("changeSchedule").WithSummary("Change a schedule's fields; the ones left out keep their values")
            .Accepts<ScheduleChange>("application/json")
            .ProducesEnvelope<ScheduleView>()
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status413PayloadTooLarge);
        api.MapPost("/{id}/pause", PauseAsync)
            .WithName("pauseSchedule")
            .WithSummary("Pause a schedule: no run starts until it is resumed, or until the optional body's until, when it resumes by itself")
            .Accepts<PauseRequest>("application/json")
            .ProducesEnvelope<ScheduleView>()
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status413PayloadTooLarge);
        api.MapPost("/{id}/resume", ResumeAsync)
            .WithName("resumeSchedule").WithSummary("Resume a paused schedule at its interval")
            .ProducesEnvelope<ScheduleView>().ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        api.MapDelete("/{id}", DeleteAsync)
            .WithName("deleteSchedule").WithSummary("Delete a schedule; the default schedule (1) cannot be deleted")
            .ProducesEnvelope<object>()
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);
        return app;
    }

    public static async Task<IResult> ListAsync(ScheduleService schedules, ScheduleViews views, CancellationToken cancellationToken)
    {
        var list = await views.ViewsAsync(await schedules.ListAsync(cancellationToken), cancellationToken);
        return ApiResults.Ok(list, count: list.Count);
    }

    public static async Task<IResult> GetAsync(ScheduleId scheduleId, ScheduleService schedules, ScheduleViews views, CancellationToken cancellationToken) =>
        await schedules.GetAsync(scheduleId.Value, cancellationToken) is { } schedule
            ? ApiResults.Ok(await views.ViewAsync(schedule, cancellationToken))
            : ApiResults.NotFound("Schedule not found");

    public static async Task<IResult> CreateAsync(
        NewSchedule body, ScheduleService schedules, ScheduleViews views, HostUsers users, IOptions<SchedulerOptions> options,
        TimeProvider time, AuditTrail audit, HttpContext http, CancellationToken cancellationToken)
    {
        ConfiguredTarget.Check(body.Segment, body.Endpoint, users, options.Value);
        var schedule = new ScheduleState { IsRunning = body.Paused != true, Overlap = nameof(OverlapPolicy.Skip).ToLowerInvariant() };
        body.Apply(schedule);
        if (!schedule.IsRunning)
        {
            schedule.PausedBy = CrewActor.Of(http.Request);
            schedule.PausedAt = time.GetUtcNow();
        }

        if (await schedules.CreateAsync(schedule, cancellationToken) is not { } created)
        {
            return ApiResults.Error(StatusCodes.Status409Conflict, $"A schedule named '{schedule.Name}' exists already");
        }

        await audit.RecordAsync(http.Request, AuditActions.ScheduleCreate, AuditTargets.Schedule(created.Id));
        return ApiResults.Created($"/api/scheduler/schedules/{created.Id}", await views.ViewAsync(created, cancellationToken));
    }

    public static async Task<IResult> ChangeAsync(
        ScheduleId scheduleId, ScheduleChange body, ScheduleService schedules, ScheduleViews views, HostUsers users,
        IOptions<SchedulerOptions> options, AuditTrail audit, HttpRequest request, CancellationToken cancellationToken)
    {
        ConfiguredTarget.Check(body.Segment, body.Endpoint, users, options.Value);
        if (scheduleId.Value == ScheduleState.DefaultId && body.Name is { } name && name != ScheduleState.DefaultName)
        {
            return ApiResults.BadRequest("The default schedule keeps its name");
        }

        try
        {
            if (await schedules.ChangeAsync(scheduleId.Value, body.Apply, cancellationToken) is not { } changed)
            {
                return ApiResults.NotFound("Schedule not found");
            }

            await audit.RecordAsync(request, AuditActions.ScheduleUpdate, AuditTargets.Schedule(changed.Id));
            return ApiResults.Ok(await views.ViewAsync(changed, cancellationToken), "Schedule changed");
        }
        catch (DbUpdateException ex) when (ex.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
        {
            return ApiResults.Error(StatusCodes.Status409Conflict, $"A schedule named '{body.Name}' exists already");
        }
    }

    public static async Task<IResult> PauseAsync(
        ScheduleId scheduleId, PauseRequest body, ScheduleService schedules, ScheduleViews views, TimeProvider time, AuditTrail audit,
        HttpRequest request, CancellationToken cancellationToken)
    {
        if (body.Until is { } until && until <= time.GetUtcNow())
        {
            return ApiResults.BadRequest("until must be in the future");
        }

        if (await schedules.StopAsync(scheduleId.Value, new SchedulePause(body.Note, body.Until, CrewActor.Of(request)), cancellationToken) is not { } paused)
        {
            return ApiResults.NotFound("Schedule not found");
        }

        await audit.RecordAsync(request, AuditActions.SchedulePause, AuditTargets.Schedule(paused.Id));
        return ApiResults.Ok(await views.ViewAsync(paused, cancellationToken), "Schedule paused");
    }

    public static async Task<IResult> ResumeAsync(
        ScheduleId scheduleId, ScheduleService schedules, ScheduleViews views, AuditTrail audit, HttpRequest request, CancellationToken cancellationToken)
    {
        if (await schedules.GetAsync(scheduleId.Value, cancellationToken) is not { } schedule)
        {
            return ApiResults.NotFound("Schedule not found");
        }

        if (await schedules.StartAsync(scheduleId.Value, schedule.IntervalMinutes, cancellationToken) is not { } resumed)
        {
            return ApiResults.NotFound("Schedule not found");
        }

        await audit.RecordAsync(request, AuditActions.ScheduleResume, AuditTargets.Schedule(resumed.Id));
        return ApiResults.Ok(await views.ViewAsync(resumed, cancellationToken), "Schedule resumed");
    }

    public static async Task<IResult> DeleteAsync(
        ScheduleId scheduleId, ScheduleService schedules, AuditTrail audit, HttpRequest request, CancellationToken cancellationToken)
    {
        if (scheduleId.Value == ScheduleState.DefaultId)
        {
            return ApiResults.Error(StatusCodes.Status409Conflict, "The default schedule cannot be deleted; pause it instead");
        }

        if (!await schedules.DeleteAsync(scheduleId.Value, cancellationToken))
        {
            return ApiResults.NotFound("Schedule not found");
        }

        await audit.RecordAsync(request, AuditActions.ScheduleDelete, AuditTargets.Schedule(scheduleId.Value));
        return ApiResults.Message("Schedule deleted");
    }
}
