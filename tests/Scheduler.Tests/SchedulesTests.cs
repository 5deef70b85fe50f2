using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Scheduling;
using CrewPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>
/// The Scheduler with two configured segments (a <c>tier</c> column the fixture adds to the host's users table) and a
/// second crew endpoint, over real RabbitMQ and PostgreSQL, under a fake clock the test moves.
/// </summary>
public sealed class SegmentedSchedulerFixture : SchedulerAppFixture
{
    public static readonly DateTimeOffset Start = new(2025, 3, 3, 9, 0, 0, TimeSpan.Zero);

    public FakeTimeProvider Clock { get; } = new(Start);

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["CREW_API_URL"] = CrewApiUrl,
        ["CREW_SCHEDULER_TICK_SECONDS"] = "59",
        ["CREW_SEGMENTS:free:Column"] = "tier",
        ["CREW_SEGMENTS:free:EqualTo"] = "free",
        ["CREW_SEGMENTS:paid:Column"] = "tier",
        ["CREW_SEGMENTS:paid:In"] = "paid, enterprise",
        ["CREW_SEGMENTS:staff:UidPrefix"] = "staff-",
        ["CREW_ENDPOINTS:paid:Url"] = "http://paid-crew.test/run-crew",
    };

    protected override void OverrideServices(IServiceCollection services) => services.AddSingleton<TimeProvider>(Clock);

    protected override Task PrepareUsersTableAsync() => ExecuteAsync("ALTER TABLE users ADD COLUMN tier text");

    public async Task AddTieredUsersAsync(params (string Uid, string? Tier)[] users)
    {
        foreach (var (uid, tier) in users)
        {
            await ExecuteAsync(
                "INSERT INTO users (uid, context, tier) VALUES ($1, 'context of ' || $1::text, $2) ON CONFLICT (uid) DO UPDATE SET tier = excluded.tier",
                uid, (object?)tier ?? DBNull.Value);
        }
    }
}

public sealed class SchedulesTests(SegmentedSchedulerFixture fixture) : IClassFixture<SegmentedSchedulerFixture>
{
    private readonly HttpClient client = fixture.App.CreateClient();

    private Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string url, string? json = null) =>
        client.SendJsonAsync(method, url, json);

    private async Task<TickOutcome> TickAtAsync(int minutesAfterStart)
    {
        fixture.Clock.SetUtcNow(SegmentedSchedulerFixture.Start.AddMinutes(minutesAfterStart));
        await using var scope = fixture.App.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ScheduleService>().TickAsync(CancellationToken.None);
    }

    private async Task<List<Run>> RunsOfAsync(int scheduleId)
    {
        await using var scope = fixture.App.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<SchedulerDbContext>().Runs.AsNoTracking()
            .Where(r => r.ScheduleId == scheduleId).OrderBy(r => r.DueAt).ToListAsync();
    }

    private static async Task<BusListener> ListenAsync(RealInfrastructure infrastructure, string queue) =>
        await new BusListener(infrastructure).Record<RunCrewForUser>(queue, prefetchCount: 100).StartAsync();

    [Fact]
    public async Task Two_schedules_fire_on_their_own_due_times_and_send_only_their_own_users_to_their_own_endpoint()
    {
        await using var defaultQueue = await ListenAsync(fixture, QueueNames.RunCrewForUser);
        await using var paidQueue = await ListenAsync(fixture, QueueNames.RunCrewForUserOn("paid", CrewPriority.High));
        await fixture.ExecuteAsync("TRUNCATE users");
        await fixture.AddTieredUsersAsync(("t-free-1", "free"), ("t-free-2", "free"), ("t-paid-1", "paid"), ("t-paid-2", "enterprise"), ("t-none", null));

        var free = await SendAsync(HttpMethod.Post, "/api/scheduler/schedules", """{"name":"free-daily","segment":"free","intervalMinutes":1440}""");
        var paid = await SendAsync(HttpMethod.Post, "/api/scheduler/schedules",
            """{"name":"paid-hourly","segment":"paid","endpoint":"paid","intervalMinutes":60,"priority":"high","overlap":"allow"}""");
        Assert.Equal(HttpStatusCode.Created, free.Status);
        Assert.Equal(HttpStatusCode.Created, paid.Status);
        var freeId = free.Body.GetProperty("data").GetProperty("id").GetInt32();
        var paidId = paid.Body.GetProperty("data").GetProperty("id").GetInt32();
        Assert.Equal(SegmentedSchedulerFixture.Start.AddMinutes(60), paid.Body.GetProperty("data").GetProperty("nextRunAt").GetDateTimeOffset());

        // The service's own tick may claim a due time first; the runs recorded are what counts.
        Assert.Equal(TickOutcome.NothingDue, await TickAtAsync(59));
        await TickAtAsync(60);
        await TickAtAsync(120);
        await TickAtAsync(1439); // downtime across 180..1380: one run, not twenty-one
        await TickAtAsync(1440);

        var paidRuns = await RunsOfAsync(paidId);
        var freeRuns = await RunsOfAsync(freeId);
        Assert.Equal(new[] { 60, 120, 180, 1440 }.Select(m => SegmentedSchedulerFixture.Start.AddMinutes(m)), paidRuns.Select(r => r.DueAt!.Value));
        Assert.Equal([SegmentedSchedulerFixture.Start.AddMinutes(1440)], freeRuns.Select(r => r.DueAt!.Value));
        Assert.All(paidRuns, r => Assert.Equal(("paid", "paid", "high"), (r.Segment, r.Endpoint, r.Priority)));

        await Eventually.HoldsAsync(() => paidQueue.Count<RunCrewForUser>() >= 8 && defaultQueue.Count<RunCrewForUser>() >= 2, "both endpoints' queues got their commands");
        // The service's reconciler runs on the fake clock too, and may re-send a command: (run, user) pairs count.
        var paidCommands = paidQueue.Received<RunCrewForUser>();
        Assert.Equal(8, paidCommands.Select(c => (c.RunId, c.UserUid)).Distinct().Count());
        Assert.All(paidCommands, c => Assert.Equal(("paid", "high", (int?)paidId), (c.Endpoint, c.Priority, c.ScheduleId)));
        Assert.Equal(["t-paid-1", "t-paid-2"], paidCommands.Select(c => c.UserUid).Distinct().Order());
        Assert.Equal(4, paidCommands.Select(c => c.RunId).Distinct().Count());

        var freeCommands = defaultQueue.Received<RunCrewForUser>();
        Assert.Equal(["t-free-1", "t-free-2"], freeCommands.Select(c => c.UserUid).Distinct().Order());
        Assert.All(freeCommands, c => Assert.Equal((CrewEndpointNames.Default, CrewPriority.Normal, (int?)freeId, freeRuns[0].Id), (c.Endpoint, c.Priority, c.ScheduleId, c.RunId)));

        var listed = await SendAsync(HttpMethod.Get, $"/api/scheduler/runs?scheduleId={paidId}&limit=100");
        Assert.Equal(4, listed.Body.GetProperty("count").GetInt32());
        var byEndpoint = await SendAsync(HttpMethod.Get, "/api/scheduler/runs?endpoint=paid&limit=100");
        Assert.All(byEndpoint.Body.GetProperty("data").EnumerateArray(), r => Assert.Equal("paid", r.GetProperty("endpoint").GetString()));
    }

    [Fact]
    public async Task A_run_now_of_three_listed_uids_sends_exactly_those_three()
    {
        await using var defaultQueue = await ListenAsync(fixture, QueueNames.RunCrewForUser);
        await fixture.AddTieredUsersAsync(("list-1", "free"), ("list-2", "paid"), ("list-3", null), ("list-4", "free"));

        var (status, body, _) = await SendAsync(HttpMethod.Post, "/api/scheduler", """{"action":"run-now","userUids":["list-1","list-3","list-4"]}""");

        Assert.Equal(HttpStatusCode.Accepted, status);
        var runId = body.GetProperty("data").GetProperty("runId").GetGuid();
        await Eventually.HoldsAsync(() => defaultQueue.Received<RunCrewForUser>().Count(c => c.RunId == runId) >= 3, "the three listed users were sent");
        var sent = defaultQueue.Received<RunCrewForUser>().Where(c => c.RunId == runId).Select(c => c.UserUid).Order().ToList();
        Assert.Equal(["list-1", "list-3", "list-4"], sent);
        var run = (await SendAsync(HttpMethod.Get, $"/api/scheduler/runs/{runId}")).Body.GetProperty("data");
        Assert.Equal((3, true), (run.GetProperty("dispatched").GetInt32(), run.GetProperty("fanOutCompleted").GetBoolean()));
    }

    [Fact]
    public async Task A_run_now_of_a_segment_on_an_endpoint_sends_that_segment_there()
    {
        await using var paidQueue = await ListenAsync(fixture, QueueNames.RunCrewForUserOn("paid", CrewPriority.Normal));
        await fixture.ExecuteAsync("TRUNCATE users");
        await fixture.AddTieredUsersAsync(("staff-1", null), ("staff-2", "paid"), ("nostaff-1", "paid"));

        var (status, body, _) = await SendAsync(HttpMethod.Post, "/api/scheduler", """{"action":"run-now","segment":"staff","endpoint":"paid"}""");

        Assert.Equal(HttpStatusCode.Accepted, status);
        var runId = body.GetProperty("data").GetProperty("runId").GetGuid();
        await Eventually.HoldsAsync(async () => (await SendAsync(HttpMethod.Get, $"/api/scheduler/runs/{runId}")).Body.GetProperty("data").GetProperty("fanOutCompleted").GetBoolean(), "the fan-out finished");
        await Eventually.HoldsAsync(() => paidQueue.Received<RunCrewForUser>().Count(c => c.RunId == runId) >= 2, "the staff users were sent");
        Assert.Equal(["staff-1", "staff-2"], paidQueue.Received<RunCrewForUser>().Where(c => c.RunId == runId).Select(c => c.UserUid).Order());
    }

    [Theory]
    [InlineData("""{"name":"x","segment":"gold","intervalMinutes":60}""", "Unknown segment 'gold'. Configured segments: all, free, paid, staff")]
    [InlineData("""{"name":"x","endpoint":"nowhere","intervalMinutes":60}""", "Unknown endpoint 'nowhere'. Configured endpoints: default, paid")]
    [InlineData("""{"name":"x","intervalMinutes":0}""", "intervalMinutes is required and must be greater than 0")]
    [InlineData("""{"name":"x","intervalMinutes":10081}""", "intervalMinutes must be at most 10080 (one week)")]
    [InlineData("""{"name":"x","intervalMinutes":1.5}""", "intervalMinutes must be a whole number of minutes")]
    [InlineData("""{"name":"x"}""", "A schedule needs intervalMinutes or cron")]
    [InlineData("""{"intervalMinutes":60}""", "name is required: 1 to 64 lower-case letters, digits, dashes and underscores")]
    [InlineData("""{"name":"Bad Name","intervalMinutes":60}""", "name must be 1 to 64 lower-case letters, digits, dashes and underscores")]
    [InlineData("""{"name":"x","intervalMinutes":60,"priority":"urgent"}""", "priority must be 'high' or 'normal'")]
    [InlineData("""{"name":"x","intervalMinutes":60,"overlap":"queue"}""", "overlap must be 'skip' or 'allow'")]
    [InlineData("""{"name":"x","intervalMinutes":60,"segment":42}""", "segment must be a non-empty string")]
    [InlineData("""{"name":"x","intervalMinutes":60,"segment":"\ud800"}""", "segment must be a non-empty string")]
    [InlineData("""[1]""", "Request body must be a JSON object")]
    [InlineData("""{"name":"x","intervalMinutes":60,"cron":"0 9 * * 1"}""", "A schedule takes intervalMinutes or cron, not both")]
    [InlineData("""{"name":"x","intervalMinutes":60,"kron":"0 9 * * 1"}""", "Unknown field 'kron': a new schedule takes name, segment, endpoint, intervalMinutes, cron, timeZone, catchUp, overlap, priority, maxCallsPerRun, maxSpendPerRun, maxSpendPerDay, skipUnchanged, paused")]
    public async Task A_bad_schedule_gets_400_with_the_envelope(string json, string error)
    {
        ApiAssert.Error(HttpStatusCode.BadRequest, error, await SendAsync(HttpMethod.Post, "/api/scheduler/schedules", json));
    }

    [Theory]
    [InlineData("""{"action":"run-now","userUids":["list-known","ghost-1","ghost-2"]}""", "2 unknown user uids: ghost-1, ghost-2")]
    [InlineData("""{"action":"run-now","userUids":[]}""", "userUids must be an array of 1 to 10000 non-empty strings of at most 255 characters")]
    [InlineData("""{"action":"run-now","userUids":[1]}""", "userUids must be an array of 1 to 10000 non-empty strings of at most 255 characters")]
    [InlineData("""{"action":"run-now","segment":"gold"}""", "Unknown segment 'gold'. Configured segments: all, free, paid, staff")]
    [InlineData("""{"action":"run-now","endpoint":"nowhere"}""", "Unknown endpoint 'nowhere'. Configured endpoints: default, paid")]
    [InlineData("""{"action":"run-now","segment":"free","userUids":["a"]}""", "run-now takes at most one of scheduleId, segment and userUids")]
    [InlineData("""{"action":"run-now","scheduleId":"one"}""", "scheduleId must be a whole number of 1 or more")]
    [InlineData("""{"action":"run-now","\ud800":1}""", "Unknown field '\uFFFD': run-now takes action, scheduleId, segment, endpoint, priority, userUids, dryRun, maxCallsPerRun, maxSpendPerRun, maxSpendPerDay, skipUnchanged")]
    [InlineData("""{"action":"run-now","dryrun":true}""", "Unknown field 'dryrun': run-now takes action, scheduleId, segment, endpoint, priority, userUids, dryRun, maxCallsPerRun, maxSpendPerRun, maxSpendPerDay, skipUnchanged")]
    [InlineData("""{"action":"run-now","maxCallsPerRun":-1,"userUid":"list-known"}""", "Unknown field 'userUid': run-now takes action, scheduleId, segment, endpoint, priority, userUids, dryRun, maxCallsPerRun, maxSpendPerRun, maxSpendPerDay, skipUnchanged")]
    public async Task A_bad_run_now_gets_400_with_the_envelope(string json, string error)
    {
        await fixture.AddTieredUsersAsync(("list-known", "free"));
        ApiAssert.Error(HttpStatusCode.BadRequest, error, await SendAsync(HttpMethod.Post, "/api/scheduler", json));
    }

    [Theory]
    [InlineData("/api/scheduler/runs?endpoint=%00", "endpoint must be 1 to 40 lower-case letters, digits and dashes")]
    [InlineData("/api/scheduler/runs?segment=DROP%20TABLE", "segment must be 1 to 64 lower-case letters, digits, dashes and underscores")]
    [InlineData("/api/scheduler/runs?scheduleId=x", "scheduleId must be a whole number of 1 or more")]
    public async Task A_bad_runs_filter_gets_400_with_the_envelope(string url, string error)
    {
        ApiAssert.Error(HttpStatusCode.BadRequest, error, await SendAsync(HttpMethod.Get, url));
    }

    [Fact]
    public async Task A_run_now_of_more_than_ten_thousand_uids_gets_400()
    {
        var uids = JsonSerializer.Serialize(Enumerable.Range(0, 10_001).Select(i => $"u{i}"));
        ApiAssert.Error(HttpStatusCode.BadRequest, "userUids must be an array of 1 to 10000 non-empty strings of at most 255 characters",
            await SendAsync(HttpMethod.Post, "/api/scheduler", "{\"action\":\"run-now\",\"userUids\":" + uids + "}"));
    }

    [Fact]
    public async Task A_schedule_is_listed_changed_paused_resumed_and_deleted_and_the_default_one_stays()
    {
        var created = await SendAsync(HttpMethod.Post, "/api/scheduler/schedules", """{"name":"crud","intervalMinutes":30,"paused":true}""");
        var id = created.Body.GetProperty("data").GetProperty("id").GetInt32();
        Assert.False(created.Body.GetProperty("data").GetProperty("isRunning").GetBoolean());
        Assert.Equal("skip", created.Body.GetProperty("data").GetProperty("overlap").GetString());

        ApiAssert.Error(HttpStatusCode.Conflict, "A schedule named 'crud' exists already",
            await SendAsync(HttpMethod.Post, "/api/scheduler/schedules", """{"name":"crud","intervalMinutes":30}"""));

        var changed = await SendAsync(HttpMethod.Patch, $"/api/scheduler/schedules/{id}", """{"segment":"paid","endpoint":"paid","priority":"high","intervalMinutes":45}""");
        Assert.Equal(HttpStatusCode.OK, changed.Status);
        var data = changed.Body.GetProperty("data");
        Assert.Equal(("paid", "paid", "high", 45), (data.GetProperty("segment").GetString(), data.GetProperty("endpoint").GetString(), data.GetProperty("priority").GetString(), data.GetProperty("intervalMinutes").GetInt32()));
        ApiAssert.Error(HttpStatusCode.BadRequest, "Unknown endpoint 'nowhere'. Configured endpoints: default, paid",
            await SendAsync(HttpMethod.Patch, $"/api/scheduler/schedules/{id}", """{"endpoint":"nowhere"}"""));

        var resumed = await SendAsync(HttpMethod.Post, $"/api/scheduler/schedules/{id}/resume");
        Assert.True(resumed.Body.GetProperty("data").GetProperty("isRunning").GetBoolean());
        Assert.Equal(fixture.Clock.GetUtcNow().AddMinutes(45), resumed.Body.GetProperty("data").GetProperty("nextRunAt").GetDateTimeOffset());
        var paused = await SendAsync(HttpMethod.Post, $"/api/scheduler/schedules/{id}/pause");
        Assert.False(paused.Body.GetProperty("data").GetProperty("isRunning").GetBoolean());

        var list = await SendAsync(HttpMethod.Get, "/api/scheduler/schedules");
        var names = list.Body.GetProperty("data").EnumerateArray().Select(s => s.GetProperty("name").GetString()).ToList();
        Assert.Equal("default", names[0]);
        Assert.Contains("crud", names);

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Delete, $"/api/scheduler/schedules/{id}")).Status);
        ApiAssert.Error(HttpStatusCode.NotFound, "Schedule not found", await SendAsync(HttpMethod.Get, $"/api/scheduler/schedules/{id}"));
        ApiAssert.Error(HttpStatusCode.Conflict, "The default schedule cannot be deleted; pause it instead", await SendAsync(HttpMethod.Delete, "/api/scheduler/schedules/1"));
        ApiAssert.Error(HttpStatusCode.BadRequest, "Invalid schedule ID", await SendAsync(HttpMethod.Get, "/api/scheduler/schedules/abc"));
    }

    [Fact]
    public async Task The_default_schedule_is_the_one_api_scheduler_acts_on()
    {
        await SendAsync(HttpMethod.Post, "/api/scheduler", """{"action":"start","intervalMinutes":17}""");

        var schedule = (await SendAsync(HttpMethod.Get, "/api/scheduler/schedules/1")).Body.GetProperty("data");

        Assert.Equal(("default", "all", "default", 17, true), (schedule.GetProperty("name").GetString(), schedule.GetProperty("segment").GetString(),
            schedule.GetProperty("endpoint").GetString(), schedule.GetProperty("intervalMinutes").GetInt32(), schedule.GetProperty("isRunning").GetBoolean()));
        await SendAsync(HttpMethod.Post, "/api/scheduler", """{"action":"stop"}""");
    }
}

/// <summary>A segment naming a column the users table lacks stops the service at startup, naming the column.</summary>
public sealed class SegmentColumnCheckTests
{
    [Fact]
    public async Task A_segment_on_a_missing_column_stops_startup_naming_it()
    {
        var infrastructure = new RealInfrastructure();
        await infrastructure.InitializeAsync();
        try
        {
            await using var app = new ServiceApp<Program>(infrastructure, new Dictionary<string, string?>
            {
                ["CREW_SEGMENTS:gold:Column"] = "plan",
                ["CREW_SEGMENTS:gold:EqualTo"] = "gold",
            });

            var error = Assert.ThrowsAny<Exception>(() => app.Server);

            Assert.Contains("CREW_SEGMENTS__gold__Column: the users table has no column 'plan'", error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            await infrastructure.DisposeAsync();
        }
    }
}
