using System.Net;
using System.Text.Json;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>Cron schedules over the HTTP API: next runs, switching cadence, and the refusals.</summary>
public sealed class CronScheduleApiTests(SegmentedSchedulerFixture fixture) : IClassFixture<SegmentedSchedulerFixture>
{
    private readonly HttpClient client = fixture.App.CreateClient();

    private Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string url, string? json = null) =>
        client.SendJsonAsync(method, url, json);

    [Fact]
    public async Task A_cron_schedule_shows_its_cron_zone_catch_up_and_next_five_runs_in_utc_and_local()
    {
        var (status, body, _) = await SendAsync(HttpMethod.Post, "/api/scheduler/schedules",
            """{"name":"paris-weekdays","cron":"0 6 * * 1-5","timeZone":"Europe/Paris","catchUp":"none"}""");
        Assert.Equal(HttpStatusCode.Created, status);
        var id = body.GetProperty("data").GetProperty("id").GetInt32();

        var schedule = (await SendAsync(HttpMethod.Get, $"/api/scheduler/schedules/{id}")).Body.GetProperty("data");
        Assert.Equal("0 6 * * 1-5", schedule.GetProperty("cron").GetString());
        Assert.Equal("Europe/Paris", schedule.GetProperty("timeZone").GetString());
        Assert.Equal("none", schedule.GetProperty("catchUp").GetString());
        Assert.Equal(JsonValueKind.Null, schedule.GetProperty("intervalMinutes").ValueKind);

        // The fixture's clock: Monday 3 March 2025, 09:00Z (10:00 in Paris): the next runs are Tuesday to the next Monday at 06:00 CET.
        var nextRuns = schedule.GetProperty("nextRuns").EnumerateArray().ToList();
        Assert.Equal(5, nextRuns.Count);
        var expected = new[] { 4, 5, 6, 7, 10 }.Select(day => new DateTimeOffset(2025, 3, day, 6, 0, 0, TimeSpan.FromHours(1))).ToList();
        Assert.Equal(expected.Select(d => d.ToUniversalTime()), nextRuns.Select(r => r.GetProperty("utc").GetDateTimeOffset()));
        Assert.Equal(expected.Select(d => d.ToString("yyyy-MM-ddTHH:mm:sszzz")), nextRuns.Select(r => r.GetProperty("local").GetString()));
        Assert.Equal(expected[0], schedule.GetProperty("nextRunAt").GetDateTimeOffset());
        Assert.EndsWith("+00:00", nextRuns[0].GetProperty("utc").GetString());
    }

    [Fact]
    public async Task A_patch_switches_interval_to_cron_and_back_and_recomputes_the_next_due_time()
    {
        var created = await SendAsync(HttpMethod.Post, "/api/scheduler/schedules", """{"name":"switching","intervalMinutes":90}""");
        var id = created.Body.GetProperty("data").GetProperty("id").GetInt32();
        var now = fixture.Clock.GetUtcNow();
        Assert.Equal(now.AddMinutes(90), created.Body.GetProperty("data").GetProperty("nextRunAt").GetDateTimeOffset());

        var toCron = (await SendAsync(HttpMethod.Patch, $"/api/scheduler/schedules/{id}", """{"cron":"15 21 * * *","timeZone":"America/New_York"}""")).Body.GetProperty("data");
        Assert.Equal(JsonValueKind.Null, toCron.GetProperty("intervalMinutes").ValueKind);
        Assert.Equal(new DateTimeOffset(2025, 3, 3, 21, 15, 0, TimeSpan.FromHours(-5)), toCron.GetProperty("nextRunAt").GetDateTimeOffset());
        Assert.Equal("2025-03-03T21:15:00-05:00", toCron.GetProperty("nextRuns")[0].GetProperty("local").GetString());

        // The time zone alone moves a cron schedule.
        var zoned = (await SendAsync(HttpMethod.Patch, $"/api/scheduler/schedules/{id}", """{"timeZone":"UTC"}""")).Body.GetProperty("data");
        Assert.Equal(new DateTimeOffset(2025, 3, 3, 21, 15, 0, TimeSpan.Zero), zoned.GetProperty("nextRunAt").GetDateTimeOffset());

        var back = (await SendAsync(HttpMethod.Patch, $"/api/scheduler/schedules/{id}", """{"intervalMinutes":45}""")).Body.GetProperty("data");
        Assert.Equal(45, back.GetProperty("intervalMinutes").GetInt32());
        Assert.Equal(JsonValueKind.Null, back.GetProperty("cron").ValueKind);
        Assert.Equal(JsonValueKind.Null, back.GetProperty("timeZone").ValueKind);
        Assert.Equal(now.AddMinutes(45), back.GetProperty("nextRunAt").GetDateTimeOffset());
        Assert.Equal([45, 90, 135, 180, 225], back.GetProperty("nextRuns").EnumerateArray().Select(r => (int)(r.GetProperty("utc").GetDateTimeOffset() - now).TotalMinutes));

        // A paused cron schedule shows no next runs, and resumes at its cron.
        await SendAsync(HttpMethod.Patch, $"/api/scheduler/schedules/{id}", """{"cron":"0 12 * * *"}""");
        var paused = (await SendAsync(HttpMethod.Post, $"/api/scheduler/schedules/{id}/pause")).Body.GetProperty("data");
        Assert.Empty(paused.GetProperty("nextRuns").EnumerateArray());
        var resumed = (await SendAsync(HttpMethod.Post, $"/api/scheduler/schedules/{id}/resume")).Body.GetProperty("data");
        Assert.Equal(new DateTimeOffset(2025, 3, 3, 12, 0, 0, TimeSpan.Zero), resumed.GetProperty("nextRunAt").GetDateTimeOffset());
        Assert.Equal("0 12 * * *", resumed.GetProperty("cron").GetString());
    }

    [Theory]
    [InlineData("POST", """{"name":"x","cron":"0 6 * *"}""", "Invalid cron expression '0 6 * *': ")]
    [InlineData("POST", """{"name":"x","cron":"61 * * * *"}""", "Invalid cron expression '61 * * * *': ")]
    [InlineData("POST", """{"name":"x","cron":"0 0 30 2 *"}""", "Invalid cron expression '0 0 30 2 *': it never occurs")]
    [InlineData("POST", """{"name":"x","cron":"* * * * * * *"}""", "Invalid cron expression '* * * * * * *': ")]
    [InlineData("POST", """{"name":"x","cron":42}""", "cron must be a non-empty string")]
    [InlineData("POST", """{"name":"x","cron":"0 6 * * *\n"}""", "cron must be a cron expression of printable ASCII, at most 120 characters")]
    [InlineData("POST", """{"name":"x","cron":"0 6 * * *","timeZone":"Mars/Olympus"}""", "Unknown timeZone 'Mars/Olympus': use an IANA time-zone id such as Europe/Paris or UTC")]
    [InlineData("POST", """{"name":"x","cron":"0 6 * * *","timeZone":"../../etc/passwd"}""", "timeZone must be an IANA time-zone id such as Europe/Paris, at most 64 characters")]
    [InlineData("POST", """{"name":"x","cron":"0 6 * * *","timeZone":""}""", "timeZone must be a non-empty string")]
    [InlineData("POST", """{"name":"x","cron":"0 6 * * *","timeZone":"America"}""", "Unknown timeZone 'America': use an IANA time-zone id such as Europe/Paris or UTC")]
    [InlineData("POST", """{"name":"x","intervalMinutes":60,"timeZone":"Europe/Paris"}""", "timeZone applies to a cron schedule: give cron with it")]
    [InlineData("POST", """{"name":"x","cron":"0 6 * * *","intervalMinutes":60}""", "A schedule takes intervalMinutes or cron, not both")]
    [InlineData("POST", """{"name":"x","timeZone":"UTC"}""", "A schedule needs intervalMinutes or cron")]
    [InlineData("POST", """{"name":"x","intervalMinutes":60,"catchUp":"all"}""", "catchUp must be 'one' or 'none'")]
    [InlineData("POST", """{"name":"x","intervalMinutes":60,"catchUp":1}""", "catchUp must be a non-empty string")]
    [InlineData("PATCH", """{"cron":"0 6 * * *","intervalMinutes":60}""", "A schedule takes intervalMinutes or cron, not both")]
    [InlineData("PATCH", """{"cron":"every day"}""", "Invalid cron expression 'every day': ")]
    [InlineData("PATCH", """{"timeZone":"Europe/Paris"}""", "timeZone applies to a cron schedule: give cron with it")]
    [InlineData("PATCH", """{"catchUp":"some"}""", "catchUp must be 'one' or 'none'")]
    public async Task A_bad_cron_zone_or_catch_up_gets_400_with_the_envelope(string method, string json, string error)
    {
        var url = "/api/scheduler/schedules";
        if (method == "PATCH")
        {
            var name = $"bad-{Guid.NewGuid():N}"[..20];
            var created = await SendAsync(HttpMethod.Post, url, $$"""{"name":"{{name}}","intervalMinutes":60}""");
            url += $"/{created.Body.GetProperty("data").GetProperty("id").GetInt32()}";
        }

        var (status, body, _) = await SendAsync(new HttpMethod(method), url, json);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.False(body.GetProperty("success").GetBoolean());
        var message = body.GetProperty("error").GetString()!;
        Assert.StartsWith(error, message);
        Assert.True(error.EndsWith(": ", StringComparison.Ordinal) ? message.Length > error.Length : message == error, message);
        Assert.DoesNotContain("Cronos", message);
        Assert.DoesNotContain("Exception", message);
    }
}
