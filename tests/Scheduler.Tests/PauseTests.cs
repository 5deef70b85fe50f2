using System.Net;
using System.Text.Json;
using CrewPlatform.Scheduler.Scheduling;
using CrewPlatform.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>Pauses with a note, an end and the actor the gateway named, over the API and real PostgreSQL, under a fake clock.</summary>
public sealed class PauseTests(SegmentedSchedulerFixture fixture) : IClassFixture<SegmentedSchedulerFixture>
{
    private readonly HttpClient client = ClientAs(fixture, "ops-key");

    private static HttpClient ClientAs(SegmentedSchedulerFixture fixture, string actor)
    {
        var client = fixture.App.CreateClient();
        client.DefaultRequestHeaders.Add(CrewActor.Header, CrewActor.Encode(actor));
        return client;
    }

    private Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string url, string? json = null) =>
        client.SendJsonAsync(method, url, json);

    private async Task<int> CreateAsync(string name)
    {
        var created = await SendAsync(HttpMethod.Post, "/api/scheduler/schedules", $$"""{"name":"{{name}}","intervalMinutes":30}""");
        Assert.Equal(HttpStatusCode.Created, created.Status);
        return created.Body.GetProperty("data").GetProperty("id").GetInt32();
    }

    private static void AssertNotPaused(JsonElement schedule)
    {
        Assert.True(schedule.GetProperty("isRunning").GetBoolean());
        foreach (var field in new[] { "pauseNote", "pausedBy", "pausedAt", "pausedUntil" })
        {
            Assert.Equal(JsonValueKind.Null, schedule.GetProperty(field).ValueKind);
        }
    }

    [Fact]
    public async Task A_pause_with_a_note_and_an_end_shows_them_with_who_paused_and_a_resume_clears_them()
    {
        var id = await CreateAsync("pause-note");
        var now = fixture.Clock.GetUtcNow();
        var until = now.AddHours(2);

        var paused = await ClientAs(fixture, "jwt:Zoë Ops").SendJsonAsync(HttpMethod.Post, $"/api/scheduler/schedules/{id}/pause",
            $$"""{"note":"  Vendor maintenance window ","until":"{{until.ToOffset(TimeSpan.FromHours(2)):yyyy-MM-ddTHH:mm:sszzz}}"}""");
        Assert.Equal(HttpStatusCode.OK, paused.Status);

        var shown = (await SendAsync(HttpMethod.Get, $"/api/scheduler/schedules/{id}")).Body.GetProperty("data");
        var listed = (await SendAsync(HttpMethod.Get, "/api/scheduler/schedules")).Body.GetProperty("data").EnumerateArray()
            .Single(s => s.GetProperty("id").GetInt32() == id);
        foreach (var schedule in new[] { paused.Body.GetProperty("data"), shown, listed })
        {
            Assert.False(schedule.GetProperty("isRunning").GetBoolean());
            Assert.Equal("Vendor maintenance window", schedule.GetProperty("pauseNote").GetString());
            Assert.Equal("jwt:Zoë Ops", schedule.GetProperty("pausedBy").GetString());
            Assert.Equal(now, schedule.GetProperty("pausedAt").GetDateTimeOffset());
            Assert.Equal(until, schedule.GetProperty("pausedUntil").GetDateTimeOffset());
        }

        var resumed = await SendAsync(HttpMethod.Post, $"/api/scheduler/schedules/{id}/resume");
        AssertNotPaused(resumed.Body.GetProperty("data"));
        AssertNotPaused((await SendAsync(HttpMethod.Get, $"/api/scheduler/schedules/{id}")).Body.GetProperty("data"));
    }

    [Fact]
    public async Task A_pause_without_a_body_still_pauses_and_records_who_and_when_and_the_default_schedules_stop_does_too()
    {
        var id = await CreateAsync("pause-bare");
        var paused = await SendAsync(HttpMethod.Post, $"/api/scheduler/schedules/{id}/pause");
        Assert.Equal(HttpStatusCode.OK, paused.Status);
        var data = paused.Body.GetProperty("data");
        Assert.False(data.GetProperty("isRunning").GetBoolean());
        Assert.Equal(JsonValueKind.Null, data.GetProperty("pauseNote").ValueKind);
        Assert.Equal(JsonValueKind.Null, data.GetProperty("pausedUntil").ValueKind);
        Assert.Equal("ops-key", data.GetProperty("pausedBy").GetString());
        Assert.Equal(fixture.Clock.GetUtcNow(), data.GetProperty("pausedAt").GetDateTimeOffset());

        // A schedule created paused records who created it so, and when.
        var createdPaused = (await SendAsync(HttpMethod.Post, "/api/scheduler/schedules", """{"name":"pause-created","intervalMinutes":30,"paused":true}""")).Body.GetProperty("data");
        Assert.Equal("ops-key", createdPaused.GetProperty("pausedBy").GetString());
        Assert.Equal(fixture.Clock.GetUtcNow(), createdPaused.GetProperty("pausedAt").GetDateTimeOffset());

        // An empty JSON object is no note and no end, as no body is.
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, $"/api/scheduler/schedules/{id}/pause", "{}")).Status);

        // Without the gateway's header nobody is named.
        var anonymous = await fixture.App.CreateClient().SendJsonAsync(HttpMethod.Post, $"/api/scheduler/schedules/{id}/pause");
        Assert.Equal(JsonValueKind.Null, anonymous.Body.GetProperty("data").GetProperty("pausedBy").ValueKind);

        // The default schedule's stop is its pause without a note or an end; start is its resume.
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, "/api/scheduler", """{"action":"stop"}""")).Status);
        var stopped = (await SendAsync(HttpMethod.Get, "/api/scheduler/schedules/1")).Body.GetProperty("data");
        Assert.Equal("ops-key", stopped.GetProperty("pausedBy").GetString());
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, "/api/scheduler", """{"action":"start","intervalMinutes":5}""")).Status);
        AssertNotPaused((await SendAsync(HttpMethod.Get, "/api/scheduler/schedules/1")).Body.GetProperty("data"));
    }

    [Theory]
    [InlineData("""{"until":"2020-01-01T00:00:00Z"}""", "until must be in the future")]
    [InlineData("""{"until":"next tuesday"}""", "until must be an ISO 8601 date and time with an offset, e.g. 2027-01-04T06:00:00Z")]
    [InlineData("""{"until":"2030-01-01T00:00:00"}""", "until must be an ISO 8601 date and time with an offset, e.g. 2027-01-04T06:00:00Z")]
    [InlineData("""{"until":1893456000}""", "until must be an ISO 8601 date and time with an offset, e.g. 2027-01-04T06:00:00Z")]
    [InlineData("""{"note":42}""", "note must be a string of at most 500 characters (no U+0000, no unpaired surrogates)")]
    [InlineData("""{"note":"a\u0000b"}""", "note must be a string of at most 500 characters (no U+0000, no unpaired surrogates)")]
    [InlineData("""{"note":"x","why":"y"}""", "Unknown field 'why': a pause takes note, until")]
    [InlineData("""{"note":""", "Request body is not valid JSON")]
    public async Task A_bad_pause_body_answers_400_naming_the_field_and_pauses_nothing(string body, string error)
    {
        var id = await CreateAsync("pause-bad-" + Math.Abs(body.GetHashCode(StringComparison.Ordinal)));
        ApiAssert.Error(HttpStatusCode.BadRequest, error, await SendAsync(HttpMethod.Post, $"/api/scheduler/schedules/{id}/pause", body));
        AssertNotPaused((await SendAsync(HttpMethod.Get, $"/api/scheduler/schedules/{id}")).Body.GetProperty("data"));
    }

    [Fact]
    public async Task A_note_longer_than_500_characters_answers_400()
    {
        var id = await CreateAsync("pause-long");
        ApiAssert.Error(HttpStatusCode.BadRequest, "note must be a string of at most 500 characters (no U+0000, no unpaired surrogates)",
            await SendAsync(HttpMethod.Post, $"/api/scheduler/schedules/{id}/pause", JsonSerializer.Serialize(new { note = new string('n', 501) })));
        Assert.Equal(HttpStatusCode.OK,
            (await SendAsync(HttpMethod.Post, $"/api/scheduler/schedules/{id}/pause", JsonSerializer.Serialize(new { note = new string('n', 500) }))).Status);
    }
}

/// <summary>A pause with an end, over two replicas racing their ticks on the same real database.</summary>
public sealed class PauseUntilAcrossReplicasTests(SchedulerDatabase database) : IClassFixture<SchedulerDatabase>
{
    private static readonly DateTimeOffset Start = new(2025, 3, 3, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_pause_until_five_minutes_ahead_resumes_once_by_itself_and_then_runs_at_its_cadence()
    {
        var clock = new FakeTimeProvider(Start);
        var settings = new Dictionary<string, string?> { ["CREW_SCHEDULER_OVERLAP"] = "allow" };
        await using var first = await SchedulerTestHost.StartAsync(database, clock, settings);
        await using var second = await SchedulerTestHost.StartAsync(database, clock, settings);
        await database.ResetAsync();
        await first.StartScheduleAsync(10);
        await first.InScopeAsync(services => services.GetRequiredService<ScheduleService>()
            .StopAsync(1, new SchedulePause("deploy", Start.AddMinutes(5), "ops-key"), CancellationToken.None));

        var resumes = new List<int>();
        for (var minute = 1; minute <= 35; minute++)
        {
            clock.Advance(TimeSpan.FromMinutes(1));
            using var go = new ManualResetEventSlim();
            var ticks = new[] { first, second, first, second }
                .Select(host => Task.Run(async () =>
                {
                    go.Wait();
                    return await host.InScopeAsync(services => services.GetRequiredService<ScheduleService>().ResumeDueAsync(CancellationToken.None));
                }))
                .ToList();
            go.Set();
            resumes.Add((await Task.WhenAll(ticks)).Sum());
            await Task.WhenAll(first.TickAsync(), second.TickAsync());

            var schedule = await first.GetScheduleAsync();
            Assert.Equal(minute >= 5, schedule.IsRunning);
        }

        // Exactly one resume, at minute 5; nothing ran while paused, then a run every 10 minutes from the resume.
        Assert.Equal(1, resumes.Sum());
        Assert.Equal(1, resumes[4]);
        var resumed = await first.GetScheduleAsync();
        Assert.Null(resumed.PauseNote);
        Assert.Null(resumed.PausedBy);
        Assert.Null(resumed.PausedAt);
        Assert.Null(resumed.PausedUntil);
        var runs = await first.RunsAsync();
        Assert.Equal([Start.AddMinutes(15), Start.AddMinutes(25), Start.AddMinutes(35)], runs.Select(r => r.DueAt!.Value).Order());

        // The resume is in the audit trail once, as the Scheduler's own act, with the pause it ended.
        Assert.Equal(
            "system:scheduler schedule.resume schedule:1 ops-key",
            await database.ScalarAsync<string>(
                "SELECT string_agg(concat_ws(' ', actor, action, target, fields->>'pausedBy'), ',') FROM audit.entries WHERE action = 'schedule.resume'"));
    }
}
