using System.Text.Json;
using System.Text.RegularExpressions;
using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Scheduling;
using CrewPlatform.ServiceDefaults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Scheduler.Apis;

public sealed record ScheduleView(
    int Id, string Name, string Segment, string Endpoint, int IntervalMinutes, string Overlap, string Priority,
    bool IsRunning, DateTimeOffset? NextRunAt, RunSummary? LastRun);

/// <summary>
/// <c>/api/scheduler/schedules</c>: many schedules, each a configured segment of users called on a configured crew
/// endpoint every interval, with its own overlap policy and priority. Schedule 1 is the default schedule, the one
/// <c>/api/scheduler</c> acts on; it cannot be deleted.
/// </summary>
public static partial class SchedulesApi
{
    /// <summary>The fields a change takes; any other is refused (400) before anything changes.</summary>
    private static readonly string[] ChangeFields = ["name", "segment", "endpoint", "intervalMinutes", "overlap", "priority"];

    /// <summary>The fields a new schedule takes: a change's, and whether it starts paused.</summary>
    private static readonly string[] CreateFields = [.. ChangeFields, "paused"];

    public static IEndpointRouteBuilder MapSchedulesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/scheduler/schedules").WithTags("Schedules");
        api.MapGet("/", ListAsync)
            .WithName("listSchedules").WithSummary("Every schedule, the default one (1) first")
            .ProducesEnvelope<List<ScheduleView>>();
        api.MapPost("/", CreateAsync)
            .WithName("createSchedule").WithSummary("A new schedule: a configured segment on a configured crew endpoint, every interval")
            .ProducesEnvelope<ScheduleView>(StatusCodes.Status201Created)
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status409Conflict);
        api.MapGet("/{id}", GetAsync)
            .WithName("getSchedule").WithSummary("One schedule")
            .ProducesEnvelope<ScheduleView>().ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        api.MapMethods("/{id}", ["PATCH", "PUT"], ChangeAsync)
            .WithName("changeSchedule").WithSummary("Change a schedule's fields; the ones left out keep their values")
            .ProducesEnvelope<ScheduleView>()
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);
        api.MapPost("/{id}/pause", PauseAsync)
            .WithName("pauseSchedule").WithSummary("Pause a schedule: no run starts until it is resumed")
            .ProducesEnvelope<ScheduleView>().ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        api.MapPost("/{id}/resume", ResumeAsync)
            .WithName("resumeSchedule").WithSummary("Resume a paused schedule at its interval")
            .ProducesEnvelope<ScheduleView>().ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        api.MapDelete("/{id}", DeleteAsync)
            .WithName("deleteSchedule").WithSummary("Delete a schedule; the default schedule (1) cannot be deleted")
            .ProducesEnvelope<object>()
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);
        return app;
    }

    public static async Task<IResult> ListAsync(ScheduleService schedules, SchedulerDbContext db, CancellationToken cancellationToken)
    {
        var views = new List<ScheduleView>();
        foreach (var schedule in await schedules.ListAsync(cancellationToken))
        {
            views.Add(await ViewAsync(schedule, schedules, db, cancellationToken));
        }

        return ApiResults.Ok(views, count: views.Count);
    }

    public static async Task<IResult> GetAsync(string id, ScheduleService schedules, SchedulerDbContext db, CancellationToken cancellationToken)
    {
        if (ParseId(id) is not { } scheduleId)
        {
            return ApiResults.BadRequest("Invalid schedule ID");
        }

        return await schedules.GetAsync(scheduleId, cancellationToken) is { } schedule
            ? ApiResults.Ok(await ViewAsync(schedule, schedules, db, cancellationToken))
            : ApiResults.NotFound("Schedule not found");
    }

    public static async Task<IResult> CreateAsync(
        HttpRequest request, ScheduleService schedules, SchedulerDbContext db, HostUsers users, IOptions<SchedulerOptions> options,
        CancellationToken cancellationToken)
    {
        var (body, bodyError) = await JsonBody.ReadObjectAsync(request, cancellationToken);
        if (bodyError is not null)
        {
            return ApiResults.BadRequest(bodyError);
        }

        using (body)
        {
            var root = body!.RootElement;
            if (JsonShape.UnknownFields(root, "a new schedule", CreateFields) is { } unknownError)
            {
                return ApiResults.BadRequest(unknownError);
            }

            if (!root.TryGetProperty("name", out _))
            {
                return ApiResults.BadRequest("name is required: 1 to 64 lower-case letters, digits, dashes and underscores");
            }

            var schedule = new ScheduleState { IsRunning = true, Overlap = nameof(OverlapPolicy.Skip).ToLowerInvariant() };
            if (Apply(root, schedule, users, options.Value, requireInterval: true) is { } error)
            {
                return ApiResults.BadRequest(error);
            }

            if (root.TryGetProperty("paused", out var paused))
            {
                if (paused.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    return ApiResults.BadRequest("paused must be true or false");
                }

                schedule.IsRunning = !paused.GetBoolean();
            }

            if (await schedules.CreateAsync(schedule, cancellationToken) is not { } created)
            {
                return ApiResults.Error(StatusCodes.Status409Conflict, $"A schedule named '{schedule.Name}' exists already");
            }

            return ApiResults.Created($"/api/scheduler/schedules/{created.Id}", await ViewAsync(created, schedules, db, cancellationToken));
        }
    }

    public static async Task<IResult> ChangeAsync(
        string id, HttpRequest request, ScheduleService schedules, SchedulerDbContext db, HostUsers users, IOptions<SchedulerOptions> options,
        CancellationToken cancellationToken)
    {
        if (ParseId(id) is not { } scheduleId)
        {
            return ApiResults.BadRequest("Invalid schedule ID");
        }

        var (body, bodyError) = await JsonBody.ReadObjectAsync(request, cancellationToken);
        if (bodyError is not null)
        {
            return ApiResults.BadRequest(bodyError);
        }

        using (body)
        {
            var root = body!.RootElement;
            if (JsonShape.UnknownFields(root, "a schedule change", ChangeFields) is { } unknownError)
            {
                return ApiResults.BadRequest(unknownError);
            }

            var existing = await schedules.GetAsync(scheduleId, cancellationToken);
            if (existing is null)
            {
                return ApiResults.NotFound("Schedule not found");
            }

            // Validated on a copy first, so a bad field changes nothing.
            if (Apply(root, existing, users, options.Value, requireInterval: false) is { } error)
            {
                return ApiResults.BadRequest(error);
            }

            if (scheduleId == ScheduleState.DefaultId && existing.Name != ScheduleState.DefaultName)
            {
                return ApiResults.BadRequest("The default schedule keeps its name");
            }

            try
            {
                var changed = await schedules.ChangeAsync(scheduleId, s => Apply(root, s, users, options.Value, requireInterval: false), cancellationToken);
                return changed is null
                    ? ApiResults.NotFound("Schedule not found")
                    : ApiResults.Ok(await ViewAsync(changed, schedules, db, cancellationToken), "Schedule changed");
            }
            catch (DbUpdateException ex) when (ex.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
            {
                return ApiResults.Error(StatusCodes.Status409Conflict, $"A schedule named '{existing.Name}' exists already");
            }
        }
    }

    public static async Task<IResult> PauseAsync(string id, ScheduleService schedules, SchedulerDbContext db, CancellationToken cancellationToken)
    {
        if (ParseId(id) is not { } scheduleId)
        {
            return ApiResults.BadRequest("Invalid schedule ID");
        }

        return await schedules.StopAsync(scheduleId, cancellationToken) is { } paused
            ? ApiResults.Ok(await ViewAsync(paused, schedules, db, cancellationToken), "Schedule paused")
            : ApiResults.NotFound("Schedule not found");
    }

    public static async Task<IResult> ResumeAsync(string id, ScheduleService schedules, SchedulerDbContext db, CancellationToken cancellationToken)
    {
        if (ParseId(id) is not { } scheduleId)
        {
            return ApiResults.BadRequest("Invalid schedule ID");
        }

        if (await schedules.GetAsync(scheduleId, cancellationToken) is not { } schedule)
        {
            return ApiResults.NotFound("Schedule not found");
        }

        var resumed = await schedules.StartAsync(scheduleId, schedule.IntervalMinutes, cancellationToken);
        return resumed is null
            ? ApiResults.NotFound("Schedule not found")
            : ApiResults.Ok(await ViewAsync(resumed, schedules, db, cancellationToken), "Schedule resumed");
    }

    public static async Task<IResult> DeleteAsync(string id, ScheduleService schedules, CancellationToken cancellationToken)
    {
        if (ParseId(id) is not { } scheduleId)
        {
            return ApiResults.BadRequest("Invalid schedule ID");
        }

        if (scheduleId == ScheduleState.DefaultId)
        {
            return ApiResults.Error(StatusCodes.Status409Conflict, "The default schedule cannot be deleted; pause it instead");
        }

        return await schedules.DeleteAsync(scheduleId, cancellationToken)
            ? ApiResults.Message("Schedule deleted")
            : ApiResults.NotFound("Schedule not found");
    }

    /// <summary>A schedule's segment and endpoint must be configured ones: the messages name them.</summary>
    public static string? CheckTarget(string? segment, string? endpoint, HostUsers users, SchedulerOptions settings)
    {
        if (segment is not null && !users.IsKnownSegment(segment))
        {
            return $"Unknown segment '{segment}'. Configured segments: {string.Join(", ", users.SegmentNames())}";
        }

        if (endpoint is not null && !settings.EndpointNames().Contains(endpoint))
        {
            return $"Unknown endpoint '{endpoint}'. Configured endpoints: {string.Join(", ", settings.EndpointNames().Order(StringComparer.Ordinal))}";
        }

        return null;
    }

    /// <summary>Reads an optional string field: (value, error); a value of another kind is an error.</summary>
    public static (string? Value, string? Error) OptionalString(JsonElement body, string name)
    {
        if (!body.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
        {
            return (null, null);
        }

        return element.ValueKind == JsonValueKind.String && JsonShape.TryGetString(element, out var value) && value.Length > 0
            ? (value, null)
            : (null, $"{name} must be a non-empty string");
    }

    /// <summary>Copies the body's fields onto the schedule, or returns the first problem (and may have copied some).</summary>
    private static string? Apply(JsonElement body, ScheduleState schedule, HostUsers users, SchedulerOptions settings, bool requireInterval)
    {
        var (name, nameError) = OptionalString(body, "name");
        var (segment, segmentError) = OptionalString(body, "segment");
        var (endpoint, endpointError) = OptionalString(body, "endpoint");
        var (overlap, overlapError) = OptionalString(body, "overlap");
        var (priority, priorityError) = OptionalString(body, "priority");
        if ((nameError ?? segmentError ?? endpointError ?? overlapError ?? priorityError) is { } error)
        {
            return error;
        }

        if (name is not null && !ScheduleName().IsMatch(name))
        {
            return "name must be 1 to 64 lower-case letters, digits, dashes and underscores";
        }

        if (CheckTarget(segment, endpoint, users, settings) is { } targetError)
        {
            return targetError;
        }

        if (overlap is not null && overlap is not ("skip" or "allow"))
        {
            return "overlap must be 'skip' or 'allow'";
        }

        if (priority is not null && !CrewPriority.All.Contains(priority))
        {
            return "priority must be 'high' or 'normal'";
        }

        if (requireInterval || body.TryGetProperty("intervalMinutes", out _))
        {
            var (interval, intervalError) = SchedulerApi.ParseInterval(body);
            if (intervalError is not null)
            {
                return intervalError;
            }

            schedule.IntervalMinutes = interval;
        }

        schedule.Name = name ?? schedule.Name;
        schedule.Segment = segment ?? schedule.Segment;
        schedule.Endpoint = endpoint ?? schedule.Endpoint;
        schedule.Overlap = overlap ?? schedule.Overlap;
        schedule.Priority = priority ?? schedule.Priority;
        return null;
    }

    private static int? ParseId(string id) =>
        WholeNumber.TryParse(id, out var value) && value > 0 ? value : null;

    private static async Task<ScheduleView> ViewAsync(ScheduleState schedule, ScheduleService schedules, SchedulerDbContext db, CancellationToken cancellationToken)
    {
        var lastRun = await SchedulerApi.RunSummaries(db.Runs.AsNoTracking().Where(r => r.ScheduleId == schedule.Id)).FirstOrDefaultAsync(cancellationToken);
        return new ScheduleView(
            schedule.Id, schedule.Name, schedule.Segment, schedule.Endpoint, schedule.IntervalMinutes,
            schedules.OverlapOf(schedule).ToString().ToLowerInvariant(), schedule.Priority,
            schedule.IsRunning, schedule.IsRunning ? schedule.NextDueAt : null, lastRun);
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,63}$")]
    private static partial Regex ScheduleName();
}

/// <summary>A request body that must be a JSON object, parsed once with the contract's messages.</summary>
public static class JsonBody
{
    public static async Task<(JsonDocument? Body, string? Error)> ReadObjectAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellationToken);
        }
        catch (JsonException)
        {
            return (null, "Request body is not valid JSON");
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            return (null, "Request body must be a JSON object");
        }

        return (document, null);
    }
}
