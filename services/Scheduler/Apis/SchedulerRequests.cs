using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Runs;
using CrewPlatform.Scheduler.Scheduling;
using CrewPlatform.ServiceDefaults;
using Microsoft.AspNetCore.Http.Metadata;

namespace CrewPlatform.Scheduler.Apis;

/// <summary>
/// <c>POST /api/scheduler</c>: one of the original's actions, in the body's own shape, read as every body is
/// (<see cref="JsonRequestBody"/>). The fields each action takes are all it may carry: a misspelt option
/// (<c>dryrun</c>) is refused before anything runs. <c>run-now</c> runs the default schedule's users; with
/// <c>scheduleId</c>, that schedule's segment, endpoint and priority; with <c>segment</c> (and optional
/// <c>endpoint</c> and <c>priority</c>) that segment; with <c>userUids</c>, up to <see cref="MaxRunNowUsers"/> uids
/// (the handler checks they are all in the users table). Its budget fields and <c>skipUnchanged</c> override its
/// schedule's, field by field; <c>dryRun: true</c> only previews it. <c>start</c> may set the default schedule's
/// <c>skipUnchanged</c>.
/// </summary>
public sealed record SchedulerAction(
    string Action, int? IntervalMinutes, int? ScheduleId, string? Segment, string? Endpoint, string? Priority, IReadOnlyList<string>? UserUids,
    [property: JsonIgnore] RunLimitsChange? Limits = null, bool DryRun = false, [property: JsonIgnore] SkipUnchangedChange? SkipUnchanged = null)
{
    public const string Start = "start";
    public const string Stop = "stop";
    public const string RunNow = "run-now";
    public const int MaxRunNowUsers = 10_000;

    private const string ValidActions = "Valid actions: start, stop, run-now";

    private static readonly Dictionary<string, string[]> Fields = new(StringComparer.Ordinal)
    {
        [Start] = ["action", "intervalMinutes", SkipUnchangedChange.Field],
        [Stop] = ["action"],
        [RunNow] = ["action", "scheduleId", "segment", "endpoint", "priority", "userUids", "dryRun", .. RunLimitsChange.Fields, SkipUnchangedChange.Field],
    };

    public static async ValueTask<SchedulerAction> BindAsync(HttpContext http)
    {
        using var body = await JsonRequestBody.ReadAsync(http, "an action", fields: null);
        var action = body.Field("action") is { ValueKind: JsonValueKind.String } text && JsonShape.TryGetString(text, out var name) ? name : null;
        if (!body.Has("action") || action?.Length == 0)
        {
            throw new InvalidRequestException($"Action is required. {ValidActions}");
        }

        if (action is null || !Fields.TryGetValue(action, out var fields))
        {
            throw new InvalidRequestException($"Invalid action. {ValidActions}");
        }

        body.RefuseUnknownFields(action, fields);
        return action switch
        {
            Start => new SchedulerAction(
                action, Apis.IntervalMinutes.Read(body), null, null, null, null, null, SkipUnchanged: SkipUnchangedChange.Read(body)),
            Stop => new SchedulerAction(action, null, null, null, null, null, null),
            _ => ReadRunNow(body),
        };
    }

    private static SchedulerAction ReadRunNow(JsonRequestBody body)
    {
        if (new[] { "scheduleId", "segment", "userUids" }.Count(body.Has) > 1)
        {
            throw new InvalidRequestException("run-now takes at most one of scheduleId, segment and userUids");
        }

        var segment = body.OptionalString("segment");
        var endpoint = body.OptionalString("endpoint");
        var priority = body.OptionalChoice("priority", CrewPriority.All);
        int? scheduleId = null;
        if (body.Field("scheduleId") is { } id)
        {
            if (endpoint is not null || priority is not null)
            {
                throw new InvalidRequestException("A run-now of a schedule takes the schedule's endpoint and priority");
            }

            scheduleId = id.ValueKind == JsonValueKind.Number && id.TryGetInt32(out var value) && value >= 1
                ? value
                : throw new InvalidRequestException("scheduleId must be a whole number of 1 or more");
        }

        return new SchedulerAction(
            RunNow, null, scheduleId, segment, endpoint, priority, body.Field("userUids") is { } uids ? UserUidsOf(uids) : null,
            RunLimitsChange.Read(body), body.OptionalBoolean("dryRun") ?? false, SkipUnchangedChange.Read(body));
    }

    private static List<string> UserUidsOf(JsonElement list)
    {
        var uids = list.ValueKind == JsonValueKind.Array && list.GetArrayLength() is > 0 and <= MaxRunNowUsers
            ? list.EnumerateArray().Select(u => u.ValueKind == JsonValueKind.String && JsonShape.TryGetString(u, out var uid) ? uid : null).ToList()
            : null;
        return uids is not null && uids.All(uid => uid is { Length: > 0 and <= 255 })
            ? uids.OfType<string>().Distinct(StringComparer.Ordinal).ToList()
            : throw new InvalidRequestException($"userUids must be an array of 1 to {MaxRunNowUsers} non-empty strings of at most 255 characters");
    }
}

/// <summary>
/// <c>PATCH</c>/<c>PUT /api/scheduler/schedules/{id}</c>: the fields to change, null where left out. <see cref="Apply"/>
/// copies the given ones onto a schedule; the segment and endpoint are checked against the configuration by the handler.
/// A schedule's cadence is <c>intervalMinutes</c> or <c>cron</c> (with <c>timeZone</c>), never both: giving one makes
/// the schedule that kind (interval to cron and back).
/// </summary>
public record ScheduleChange(
    string? Name, string? Segment, string? Endpoint, int? IntervalMinutes, string? Overlap, string? Priority,
    [property: JsonIgnore] RunLimitsChange Limits, [property: JsonIgnore] SkipUnchangedChange SkipUnchanged,
    [property: Description("A cron expression: five fields (minute hour day-of-month month day-of-week), or six with seconds first; instead of intervalMinutes")]
    string? Cron = null,
    [property: Description("The IANA time zone the cron expression is read in (Europe/Paris); default UTC; only with cron")]
    string? TimeZone = null,
    [property: Description("After downtime across due times: 'one' (default) starts one run, 'none' starts none and records each missed due time as a skipped run (reason missed)")]
    string? CatchUp = null)
{
    protected static readonly string[] Fields =
        ["name", "segment", "endpoint", "intervalMinutes", "cron", "timeZone", "catchUp", "overlap", "priority", .. RunLimitsChange.Fields, SkipUnchangedChange.Field];

    private static readonly string[] Overlaps = ["skip", "allow"];

    public static async ValueTask<ScheduleChange> BindAsync(HttpContext http)
    {
        using var body = await JsonRequestBody.ReadAsync(http, "a schedule change", Fields);
        return Read(body, isNew: false);
    }

    protected static ScheduleChange Read(JsonRequestBody body, bool isNew)
    {
        if (isNew && !body.Root.TryGetProperty("name", out _))
        {
            throw new InvalidRequestException($"name is required: {PlatformNames.NameRule}");
        }

        var name = body.OptionalName("name");
        var calendar = ScheduleCalendar.Read(body, isNew);
        return new ScheduleChange(
            name, body.OptionalString("segment"), body.OptionalString("endpoint"),
            calendar.Cron is null && (isNew || body.Root.TryGetProperty("intervalMinutes", out _)) ? Apis.IntervalMinutes.Read(body) : null,
            body.OptionalChoice("overlap", Overlaps), body.OptionalChoice("priority", CrewPriority.All), RunLimitsChange.Read(body),
            SkipUnchangedChange.Read(body), calendar.Cron, calendar.TimeZone, calendar.CatchUp);
    }

    public void Apply(ScheduleState schedule)
    {
        schedule.Name = Name ?? schedule.Name;
        schedule.Segment = Segment ?? schedule.Segment;
        schedule.Endpoint = Endpoint ?? schedule.Endpoint;
        if (Cron is not null)
        {
            (schedule.IntervalMinutes, schedule.Cron, schedule.TimeZone) = (0, Cron, TimeZone ?? schedule.TimeZone ?? ScheduleCadence.Utc);
        }
        else if (IntervalMinutes is { } interval)
        {
            (schedule.IntervalMinutes, schedule.Cron, schedule.TimeZone) = (interval, null, null);
        }
        else if (TimeZone is not null)
        {
            schedule.TimeZone = schedule.Cron is not null
                ? TimeZone
                : throw new InvalidRequestException("timeZone applies to a cron schedule: give cron with it");
        }

        schedule.CatchUp = CatchUp ?? schedule.CatchUp;
        schedule.Overlap = Overlap ?? schedule.Overlap;
        schedule.Priority = Priority ?? schedule.Priority;
        (schedule.MaxCallsPerRun, schedule.MaxSpendPerRun, schedule.MaxSpendPerDay) = Limits.Over(RunLimits.Of(schedule));
        schedule.SkipUnchangedForMinutes = SkipUnchanged.Over(schedule.SkipUnchangedForMinutes);
    }
}

/// <summary><c>POST /api/scheduler/schedules</c>: a schedule's fields (name and an interval or a cron required) and whether it starts paused.</summary>
public sealed record NewSchedule(
    string? Name, string? Segment, string? Endpoint, int? IntervalMinutes, string? Overlap, string? Priority, RunLimitsChange Limits,
    SkipUnchangedChange SkipUnchanged, bool? Paused, string? Cron = null, string? TimeZone = null, string? CatchUp = null)
    : ScheduleChange(Name, Segment, Endpoint, IntervalMinutes, Overlap, Priority, Limits, SkipUnchanged, Cron, TimeZone, CatchUp)
{
    public static new async ValueTask<NewSchedule> BindAsync(HttpContext http)
    {
        using var body = await JsonRequestBody.ReadAsync(http, "a new schedule", [.. Fields, "paused"]);
        var fields = Read(body, isNew: true);
        return new NewSchedule(
            fields.Name, fields.Segment, fields.Endpoint, fields.IntervalMinutes, fields.Overlap, fields.Priority, fields.Limits, fields.SkipUnchanged,
            body.OptionalBoolean("paused"), fields.Cron, fields.TimeZone, fields.CatchUp);
    }
}

/// <summary>
/// <c>cron</c>, <c>timeZone</c> and <c>catchUp</c> as a schedule's body gives them, each checked: the cron expression
/// parses (Cronos's message names what is wrong) and occurs again, the time zone is one the system's time-zone database
/// knows by its IANA id, and a body gives <c>cron</c> or <c>intervalMinutes</c>, not both (a new schedule one of them).
/// </summary>
public sealed record ScheduleCalendar(string? Cron, string? TimeZone, string? CatchUp)
{
    public const int MaxCronLength = 120;
    public const int MaxTimeZoneLength = 64;

    public static ScheduleCalendar Read(JsonRequestBody body, bool isNew)
    {
        var cron = body.OptionalString("cron");
        var zone = body.OptionalString("timeZone");
        if (cron is not null && body.Has("intervalMinutes"))
        {
            throw new InvalidRequestException("A schedule takes intervalMinutes or cron, not both");
        }

        if (isNew && cron is null && !body.Has("intervalMinutes"))
        {
            throw new InvalidRequestException("A schedule needs intervalMinutes or cron");
        }

        if (zone is not null && cron is null && (isNew || body.Has("intervalMinutes")))
        {
            throw new InvalidRequestException("timeZone applies to a cron schedule: give cron with it");
        }

        var catchUp = body.OptionalChoice("catchUp", CatchUpPolicy.All);
        if (zone is not null)
        {
            CheckZone(zone);
        }

        if (cron is not null)
        {
            CheckCron(cron, zone ?? ScheduleCadence.Utc);
        }

        return new ScheduleCalendar(cron, zone, catchUp);
    }

    private static void CheckZone(string zone)
    {
        if (zone.Length > MaxTimeZoneLength || !zone.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '_' or '-' or '+'))
        {
            throw new InvalidRequestException($"timeZone must be an IANA time-zone id such as Europe/Paris, at most {MaxTimeZoneLength} characters");
        }

        try
        {
            ScheduleCadence.FindZone(zone);
        }
        // Not found, not a time-zone file (a directory of the database such as America), or unreadable: all unknown.
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException or System.Security.SecurityException or IOException or UnauthorizedAccessException)
        {
            throw new InvalidRequestException($"Unknown timeZone '{zone}': use an IANA time-zone id such as Europe/Paris or UTC");
        }
    }

    private static void CheckCron(string cron, string zone)
    {
        if (cron.Length > MaxCronLength || !cron.All(c => c is >= ' ' and <= '~'))
        {
            throw new InvalidRequestException($"cron must be a cron expression of printable ASCII, at most {MaxCronLength} characters");
        }

        ScheduleCadence cadence;
        try
        {
            cadence = ScheduleCadence.Calendar(cron, zone);
        }
        catch (Cronos.CronFormatException ex)
        {
            throw new InvalidRequestException($"Invalid cron expression '{cron}': {ex.Message}");
        }

        if (cadence.After(DateTimeOffset.UtcNow) is null)
        {
            throw new InvalidRequestException($"Invalid cron expression '{cron}': it never occurs");
        }
    }
}

/// <summary>
/// <c>POST /api/scheduler/schedules/{id}/pause</c>'s optional body: <c>note</c> (why, at most
/// <see cref="ScheduleState.MaxPauseNoteLength"/> characters of storable text) and <c>until</c> (an ISO 8601 date and
/// time with its offset or <c>Z</c>, in the future: the schedule resumes by itself then). No body, or an empty one,
/// pauses until an operator resumes, as before.
/// </summary>
public sealed record PauseRequest(string? Note, DateTimeOffset? Until)
{
    public static readonly PauseRequest None = new(null, null);

    private static readonly string[] Fields = ["note", "until"];

    public static async ValueTask<PauseRequest> BindAsync(HttpContext http)
    {
        if (http.Request.ContentLength == 0
            || (http.Request.ContentLength is null && http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false }))
        {
            return None;
        }

        using var body = await JsonRequestBody.ReadOptionalAsync(http, "a pause", Fields);
        if (body is null)
        {
            return None;
        }

        var note = body.Field("note") switch
        {
            null => null,
            { ValueKind: JsonValueKind.String } value when JsonShape.TryGetString(value, out var text) && StorableText.IsStorable(text)
                && text.Length <= ScheduleState.MaxPauseNoteLength => text.Trim() is { Length: > 0 } trimmed ? trimmed : null,
            _ => throw new InvalidRequestException(
                $"note must be a string of at most {ScheduleState.MaxPauseNoteLength} characters (no U+0000, no unpaired surrogates)"),
        };
        var until = body.Field("until") switch
        {
            null => (DateTimeOffset?)null,
            { ValueKind: JsonValueKind.String } value when JsonShape.TryGetString(value, out var text) && UntilOf(text) is { } parsed => parsed,
            _ => throw new InvalidRequestException("until must be an ISO 8601 date and time with an offset, e.g. 2027-01-04T06:00:00Z"),
        };
        return new PauseRequest(note, until);
    }

    // An offset or Z is required: a bare local time would mean whatever zone the server runs in.
    private static DateTimeOffset? UntilOf(string text) =>
        text.Length <= 64
        && DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var kind) && kind.Kind != DateTimeKind.Unspecified
        && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var until)
            ? until.ToUniversalTime()
            : null;
}

/// <summary>A run's spend limits, as a schedule or a run-now sets them; null: no limit.</summary>
public sealed record RunLimits(int? MaxCallsPerRun, decimal? MaxSpendPerRun, decimal? MaxSpendPerDay)
{
    public static readonly RunLimits None = new(null, null, null);

    public static RunLimits Of(ScheduleState schedule) => new(schedule.MaxCallsPerRun, schedule.MaxSpendPerRun, schedule.MaxSpendPerDay);
}

/// <summary>
/// <c>maxCallsPerRun</c> (a whole number of 1 or more), <c>maxSpendPerRun</c> and <c>maxSpendPerDay</c> (numbers of 0 or
/// more) as a body gives them: <see cref="Over"/> keeps the limits the body leaves out and takes the ones it gives (null clears).
/// </summary>
public sealed record RunLimitsChange(RunLimits Values, bool CallsGiven, bool SpendGiven, bool SpendPerDayGiven)
{
    public static readonly string[] Fields = ["maxCallsPerRun", "maxSpendPerRun", "maxSpendPerDay"];

    public static RunLimitsChange Read(JsonRequestBody body) => new(
        new RunLimits(body.OptionalWholeNumber(Fields[0], 1), body.OptionalAmount(Fields[1]), body.OptionalAmount(Fields[2])),
        body.Given(Fields[0]), body.Given(Fields[1]), body.Given(Fields[2]));

    public RunLimits Over(RunLimits current) => new(
        CallsGiven ? Values.MaxCallsPerRun : current.MaxCallsPerRun,
        SpendGiven ? Values.MaxSpendPerRun : current.MaxSpendPerRun,
        SpendPerDayGiven ? Values.MaxSpendPerDay : current.MaxSpendPerDay);
}

/// <summary>
/// <c>skipUnchanged: {"freshForMinutes": N}</c> as a schedule or a run shows it: users whose latest answer on the run's
/// crew endpoint is younger than N minutes and came from exactly their current context and goal are not called.
/// </summary>
public sealed record SkipUnchanged(int FreshForMinutes)
{
    public static SkipUnchanged? Of(int? freshForMinutes) => freshForMinutes is { } minutes ? new SkipUnchanged(minutes) : null;
}

/// <summary>
/// <c>skipUnchanged</c> as a body gives it: <c>{"freshForMinutes": N}</c> (a whole number of 1 to
/// <see cref="UnchangedUsers.MaxFreshForMinutes"/>, nothing else in the object), or null, which turns it off.
/// <see cref="Over"/> keeps the current value when the body leaves the field out.
/// </summary>
public sealed record SkipUnchangedChange(int? FreshForMinutes, bool Given)
{
    public const string Field = "skipUnchanged";
    public const string MinutesField = "freshForMinutes";

    public static readonly SkipUnchangedChange NotGiven = new(null, false);

    private static readonly string Shape =
        $$"""{{Field}} must be an object {"{{MinutesField}}": N} with N a whole number of minutes from 1 to {{UnchangedUsers.MaxFreshForMinutes}}, or null""";

    public static SkipUnchangedChange Read(JsonRequestBody body)
    {
        if (!body.Given(Field))
        {
            return NotGiven;
        }

        if (body.Field(Field) is not { } value)
        {
            return new SkipUnchangedChange(null, true);
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidRequestException(Shape);
        }

        if (JsonShape.UnknownFields(value, Field, [MinutesField]) is { } refusal)
        {
            throw new InvalidRequestException(refusal);
        }

        return value.TryGetProperty(MinutesField, out var minutes) && minutes.ValueKind == JsonValueKind.Number
            && minutes.TryGetDecimal(out var number) && number == decimal.Truncate(number) && number is >= 1 and <= UnchangedUsers.MaxFreshForMinutes
            ? new SkipUnchangedChange((int)number, true)
            : throw new InvalidRequestException($"{Field}.{MinutesField} must be a whole number of minutes from 1 to {UnchangedUsers.MaxFreshForMinutes}");
    }

    public int? Over(int? current) => Given ? FreshForMinutes : current;
}

/// <summary><c>?dryRun=true</c>: preview what the request would do, changing nothing; <c>false</c> or absent does it.</summary>
public readonly record struct DryRunFlag(bool Value) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => QueryValue.Describe(parameter, builder, "boolean");

    public static ValueTask<DryRunFlag> BindAsync(HttpContext http, ParameterInfo parameter) =>
        ValueTask.FromResult(new DryRunFlag(QueryValue.Single(http, parameter, out var name) switch
        {
            null or "false" => false,
            "true" => true,
            _ => throw new InvalidRequestException($"{name} must be true or false"),
        }));
}

/// <summary>
/// <c>intervalMinutes</c>: the original's rule (missing or not greater than 0 is one message) plus what it let through:
/// a fraction, a string or a boolean, and more than a week.
/// </summary>
public static class IntervalMinutes
{
    public const string Required = "intervalMinutes is required and must be greater than 0";

    public static int Read(JsonRequestBody body)
    {
        const string wholeNumber = "intervalMinutes must be a whole number of minutes";
        var tooLarge = $"intervalMinutes must be at most {SchedulerOptions.MaxIntervalMinutes} (one week)";
        if (body.Field("intervalMinutes") is not { } element)
        {
            throw new InvalidRequestException(Required);
        }

        if (element.ValueKind != JsonValueKind.Number)
        {
            throw new InvalidRequestException(wholeNumber);
        }

        if (!element.TryGetDecimal(out var value))
        {
            // Beyond decimal's range: a huge magnitude either way.
            throw new InvalidRequestException(element.GetRawText().StartsWith('-') ? Required : tooLarge);
        }

        return value switch
        {
            <= 0 => throw new InvalidRequestException(Required),
            _ when value != decimal.Truncate(value) => throw new InvalidRequestException(wholeNumber),
            > SchedulerOptions.MaxIntervalMinutes => throw new InvalidRequestException(tooLarge),
            _ => (int)value,
        };
    }
}

/// <summary>A run's <c>{id}</c>: a GUID.</summary>
public readonly record struct RunId(Guid Value) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => RouteId.Describe(builder, "string", "uuid");

    public static ValueTask<RunId> BindAsync(HttpContext http) => ValueTask.FromResult(new RunId(RouteId.Guid(http, "Invalid run ID")));
}

/// <summary>A schedule's <c>{id}</c>: a whole number of 1 or more.</summary>
public readonly record struct ScheduleId(int Value) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => RouteId.Describe(builder, "integer", "int32");

    public static ValueTask<ScheduleId> BindAsync(HttpContext http) =>
        ValueTask.FromResult(new ScheduleId(RouteId.PositiveWholeNumber(http, "Invalid schedule ID")));
}

/// <summary><c>GET /api/scheduler/runs</c>: a page of runs, newest first, optionally of one schedule, endpoint or segment.</summary>
public sealed record RunsQuery(
    [DefaultValue(RunsQuery.DefaultLimit)] PageLimit Limit,
    PageOffset Offset, ScheduleIdFilter? ScheduleId, EndpointFilter? Endpoint, SegmentFilter? Segment)
{
    public const int DefaultLimit = 20;
}

/// <summary>A run's or a schedule's segment and endpoint must be configured ones: the refusal names those that are.</summary>
public static class ConfiguredTarget
{
    public static void Check(string? segment, string? endpoint, HostUsers users, SchedulerOptions settings)
    {
        if (segment is not null && !users.IsKnownSegment(segment))
        {
            throw new InvalidRequestException($"Unknown segment '{segment}'. Configured segments: {string.Join(", ", users.SegmentNames())}");
        }

        if (endpoint is not null && !settings.EndpointNames().Contains(endpoint))
        {
            throw new InvalidRequestException(
                $"Unknown endpoint '{endpoint}'. Configured endpoints: {string.Join(", ", settings.EndpointNames().Order(StringComparer.Ordinal))}");
        }
    }
}
