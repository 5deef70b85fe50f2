using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CrewPlatform.Scheduler.Apis;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>The <c>/api/scheduler</c> wire contract: the original's messages, the new run endpoints and every 400.</summary>
public sealed class SchedulerApiTests(SchedulerAppFixture fixture) : IClassFixture<SchedulerAppFixture>
{
    private readonly HttpClient client = fixture.App.CreateClient();

    private Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string url, string? json = null) =>
        client.SendJsonAsync(method, url, json);

    private Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> PostAsync(string json) =>
        SendAsync(HttpMethod.Post, "/api/scheduler", json);

    [Fact]
    public async Task The_openapi_document_describes_every_operation_for_a_generated_client()
    {
        using var document = await OpenApiDocumentCheck.CheckAsync(client, fixture.App.Services, "scheduler");

        var schedule = document.RootElement.GetProperty("paths").GetProperty("/api/scheduler/schedules/{id}");
        Assert.Equal("changeSchedule", schedule.GetProperty("patch").GetProperty("operationId").GetString());
        Assert.Equal("changeSchedulePut", schedule.GetProperty("put").GetProperty("operationId").GetString());
        var action = document.RootElement.GetProperty("paths").GetProperty("/api/scheduler").GetProperty("post").GetProperty("responses");
        Assert.True(action.TryGetProperty("200", out _) && action.TryGetProperty("202", out _), action.GetRawText());

        // The budget and skipUnchanged fields as a body gives them, not as the request records hold them.
        var schemas = document.RootElement.GetProperty("components").GetProperty("schemas");
        foreach (var body in new[] { "SchedulerAction", "NewSchedule", "ScheduleChange" })
        {
            var properties = schemas.GetProperty(body).GetProperty("properties");
            Assert.False(properties.TryGetProperty("limits", out _), body);
            Assert.All(new[] { "maxCallsPerRun", "maxSpendPerRun", "maxSpendPerDay" }, field => Assert.True(properties.TryGetProperty(field, out _), $"{body}.{field}"));
            var skip = properties.GetProperty("skipUnchanged");
            Assert.Equal(["freshForMinutes"], skip.GetProperty("required").EnumerateArray().Select(r => r.GetString()));
            Assert.Equal("525600", skip.GetProperty("properties").GetProperty("freshForMinutes").GetProperty("maximum").GetRawText());
        }
    }

    [Fact]
    public async Task Status_has_the_original_fields_plus_next_run_and_last_run()
    {
        await PostAsync("""{"action":"stop"}""");

        var (status, body, _) = await SendAsync(HttpMethod.Get, "/api/scheduler");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("success").GetBoolean());
        var data = body.GetProperty("data");
        Assert.False(data.GetProperty("isRunning").GetBoolean());
        Assert.True(data.GetProperty("intervalMinutes").GetInt32() > 0);
        Assert.Equal(SchedulerAppFixture.CrewApiUrl, data.GetProperty("apiUrl").GetString());
        Assert.Equal(JsonValueKind.Null, data.GetProperty("nextRunAt").ValueKind);
        Assert.True(data.TryGetProperty("lastRun", out _));
    }

    [Fact]
    public async Task Start_answers_the_original_message_and_runs_the_schedule_at_the_interval()
    {
        var before = DateTimeOffset.UtcNow;

        var (status, body, _) = await PostAsync("""{"action":"start","intervalMinutes":7}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Scheduler started with interval: 7 minutes", body.GetProperty("message").GetString());
        var data = body.GetProperty("data");
        Assert.True(data.GetProperty("isRunning").GetBoolean());
        Assert.Equal(7, data.GetProperty("intervalMinutes").GetInt32());
        var nextRunAt = data.GetProperty("nextRunAt").GetDateTimeOffset();
        Assert.InRange(nextRunAt, before.AddMinutes(7).AddSeconds(-1), DateTimeOffset.UtcNow.AddMinutes(7).AddSeconds(1));

        var (_, changed, _) = await PostAsync("""{"action":"start","intervalMinutes":90}""");
        Assert.Equal("Scheduler started with interval: 90 minutes", changed.GetProperty("message").GetString());
        Assert.Equal(90, changed.GetProperty("data").GetProperty("intervalMinutes").GetInt32());

        var (_, statusBody, _) = await SendAsync(HttpMethod.Get, "/api/scheduler");
        Assert.True(statusBody.GetProperty("data").GetProperty("isRunning").GetBoolean());
        Assert.Equal(90, statusBody.GetProperty("data").GetProperty("intervalMinutes").GetInt32());
        await PostAsync("""{"action":"stop"}""");
    }

    [Fact]
    public async Task Stop_answers_the_original_message_and_stops_the_schedule()
    {
        await PostAsync("""{"action":"start","intervalMinutes":5}""");

        var (status, body, _) = await PostAsync("""{"action":"stop"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Scheduler stopped", body.GetProperty("message").GetString());
        Assert.False(body.GetProperty("data").GetProperty("isRunning").GetBoolean());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("data").GetProperty("nextRunAt").ValueKind);
    }

    [Theory]
    [InlineData("""{"action":"run-now","dryrun":true}""", "Unknown field 'dryrun': run-now takes action, scheduleId, segment, endpoint, priority, userUids, dryRun, maxCallsPerRun, maxSpendPerRun, maxSpendPerDay, skipUnchanged")]
    [InlineData("""{"action":"start","intervalMinutes":5,"IntervalMinutes":7}""", "Unknown field 'IntervalMinutes': start takes action, intervalMinutes, skipUnchanged")]
    [InlineData("""{"action":"stop","force":true}""", "Unknown field 'force': stop takes action")]
    public async Task An_unknown_field_is_refused_and_nothing_starts_or_changes(string json, string error)
    {
        var before = await ScheduleAndRunsAsync();

        ApiAssert.Error(HttpStatusCode.BadRequest, error, await PostAsync(json));

        Assert.Equal(before, await ScheduleAndRunsAsync());
    }

    /// <summary>Whether the default schedule runs, its interval, and the ids of every run.</summary>
    private async Task<string> ScheduleAndRunsAsync()
    {
        var (_, status, _) = await SendAsync(HttpMethod.Get, "/api/scheduler");
        var (_, runs, _) = await SendAsync(HttpMethod.Get, "/api/scheduler/runs?limit=1000");
        var data = status.GetProperty("data");
        var ids = runs.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("id").GetString()).Order();
        return $"{data.GetProperty("isRunning")} {data.GetProperty("intervalMinutes")} runs: {string.Join(",", ids)}";
    }

    [Fact]
    public async Task Run_now_answers_202_with_the_run_id_and_where_to_follow_it()
    {
        var (status, body, response) = await PostAsync("""{"action":"run-now"}""");

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal("Run started", body.GetProperty("message").GetString());
        var runId = body.GetProperty("data").GetProperty("runId").GetGuid();
        var statusUrl = body.GetProperty("data").GetProperty("statusUrl").GetString();
        Assert.Equal($"/api/scheduler/runs/{runId}", statusUrl);
        Assert.Equal(statusUrl, response.Headers.Location?.ToString());

        var (runStatus, run, _) = await SendAsync(HttpMethod.Get, statusUrl!);
        Assert.Equal(HttpStatusCode.OK, runStatus);
        Assert.Equal(runId, run.GetProperty("data").GetProperty("id").GetGuid());
        Assert.Equal("manual", run.GetProperty("data").GetProperty("trigger").GetString());
        Assert.Equal(JsonValueKind.Array, run.GetProperty("data").GetProperty("failedUsers").ValueKind);

        var (_, schedulerStatus, _) = await SendAsync(HttpMethod.Get, "/api/scheduler");
        var lastRun = schedulerStatus.GetProperty("data").GetProperty("lastRun");
        Assert.Equal(runId, lastRun.GetProperty("id").GetGuid());
        foreach (var field in new[] { "status", "trigger", "startedAt", "completedAt", "dispatched", "succeeded", "failed", "skipped" })
        {
            Assert.True(lastRun.TryGetProperty(field, out _), $"lastRun has {field}");
        }
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"action":null}""")]
    [InlineData("""{"action":""}""")]
    [InlineData("""{"intervalMinutes":5}""")]
    public async Task A_missing_action_is_a_400_naming_the_valid_actions(string json) =>
        ApiAssert.Error(HttpStatusCode.BadRequest, "Action is required. Valid actions: start, stop, run-now", await PostAsync(json));

    [Theory]
    [InlineData("""{"action":"pause"}""")]
    [InlineData("""{"action":"START"}""")]
    [InlineData("""{"action":42}""")]
    [InlineData("""{"action":["start"]}""")]
    [InlineData("""{"action":"\ud800"}""")]
    [InlineData("""{"action":"\udc00start"}""")]
    public async Task An_unknown_action_is_a_400_naming_the_valid_actions(string json) =>
        ApiAssert.Error(HttpStatusCode.BadRequest, "Invalid action. Valid actions: start, stop, run-now", await PostAsync(json));

    [Theory]
    [InlineData("""{"action":"start"}""")]
    [InlineData("""{"action":"start","intervalMinutes":null}""")]
    [InlineData("""{"action":"start","intervalMinutes":0}""")]
    [InlineData("""{"action":"start","intervalMinutes":-5}""")]
    [InlineData("""{"action":"start","intervalMinutes":-1e999}""")]
    public async Task Start_without_a_positive_interval_is_the_original_400(string json) =>
        ApiAssert.Error(HttpStatusCode.BadRequest, "intervalMinutes is required and must be greater than 0", await PostAsync(json));

    [Theory]
    [InlineData("""{"action":"start","intervalMinutes":7.5}""")]
    [InlineData("""{"action":"start","intervalMinutes":"7"}""")]
    [InlineData("""{"action":"start","intervalMinutes":true}""")]
    [InlineData("""{"action":"start","intervalMinutes":[7]}""")]
    public async Task Start_with_an_interval_that_is_not_a_whole_number_is_a_400(string json) =>
        ApiAssert.Error(HttpStatusCode.BadRequest, "intervalMinutes must be a whole number of minutes", await PostAsync(json));

    [Theory]
    [InlineData("""{"action":"start","intervalMinutes":10081}""")]
    [InlineData("""{"action":"start","intervalMinutes":99999999999999999999}""")]
    [InlineData("""{"action":"start","intervalMinutes":1e999}""")]
    public async Task Start_with_an_interval_over_a_week_is_a_400(string json) =>
        ApiAssert.Error(HttpStatusCode.BadRequest, "intervalMinutes must be at most 10080 (one week)", await PostAsync(json));

    [Theory]
    [InlineData(1)]
    [InlineData(10080)]
    public async Task Start_accepts_the_interval_bounds(int minutes)
    {
        var (status, body, _) = await PostAsync($$"""{"action":"start","intervalMinutes":{{minutes}}}""");
        await PostAsync("""{"action":"stop"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal($"Scheduler started with interval: {minutes} minutes", body.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("""{"action":"start",""")]
    [InlineData("not json")]
    [InlineData("")]
    public async Task A_body_that_is_not_json_is_a_400(string body) =>
        ApiAssert.Error(HttpStatusCode.BadRequest, "Request body is not valid JSON", await PostAsync(body));

    [Theory]
    [InlineData("""["start"]""")]
    [InlineData("\"start\"")]
    [InlineData("null")]
    public async Task A_json_body_that_is_not_an_object_is_a_400(string body) =>
        ApiAssert.Error(HttpStatusCode.BadRequest, "Request body must be a JSON object", await PostAsync(body));

    [Fact]
    public async Task Runs_are_listed_newest_first_with_limit_and_offset()
    {
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            var (_, body, _) = await PostAsync("""{"action":"run-now"}""");
            ids.Add(body.GetProperty("data").GetProperty("runId").GetGuid());
        }

        var (status, page, _) = await SendAsync(HttpMethod.Get, "/api/scheduler/runs?limit=2");
        var (_, next, _) = await SendAsync(HttpMethod.Get, "/api/scheduler/runs?limit=1&offset=2");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, page.GetProperty("count").GetInt32());
        Assert.Equal([ids[2], ids[1]], page.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("id").GetGuid()));
        Assert.Equal(ids[0], Assert.Single(next.GetProperty("data").EnumerateArray()).GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task Runs_come_twenty_to_a_page_unless_a_limit_says_otherwise_and_a_limit_of_0_answers_none()
    {
        using (var scope = fixture.App.Services.CreateScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<SchedulerDbContext>();
            var now = DateTimeOffset.UtcNow;
            db.Runs.AddRange(Enumerable.Range(0, RunsQuery.DefaultLimit + 5).Select(i => new Run
            {
                Id = Guid.NewGuid(), StartedAt = now.AddSeconds(-i), LastProgressAt = now, Status = RunStatus.Completed, FanOutCompleted = true,
            }));
            await db.SaveChangesAsync();
        }

        var (_, byDefault, _) = await SendAsync(HttpMethod.Get, "/api/scheduler/runs");
        var (_, none, _) = await SendAsync(HttpMethod.Get, "/api/scheduler/runs?limit=0");

        Assert.Equal(RunsQuery.DefaultLimit, byDefault.GetProperty("count").GetInt32());
        Assert.Equal(0, none.GetProperty("count").GetInt32());
    }

    [Theory]
    [InlineData("limit=abc", "limit must be a whole number from 0 to 1000")]
    [InlineData("limit=1001", "limit must be a whole number from 0 to 1000")]
    [InlineData("limit=-1", "limit must be a whole number from 0 to 1000")]
    [InlineData("limit=2.5", "limit must be a whole number from 0 to 1000")]
    [InlineData("offset=-1", "offset must be a whole number of 0 or more")]
    [InlineData("offset=x", "offset must be a whole number of 0 or more")]
    [InlineData("offset=99999999999", "offset must be a whole number of 0 or more")]
    [InlineData("limit=1%00", "limit must be a whole number from 0 to 1000")]
    [InlineData("offset=0%00", "offset must be a whole number of 0 or more")]
    public async Task A_bad_limit_or_offset_is_a_400(string query, string error) =>
        ApiAssert.Error(HttpStatusCode.BadRequest, error, await SendAsync(HttpMethod.Get, $"/api/scheduler/runs?{query}"));

    [Fact]
    public async Task A_run_id_that_is_not_a_guid_is_a_400() =>
        ApiAssert.Error(HttpStatusCode.BadRequest, "Invalid run ID", await SendAsync(HttpMethod.Get, "/api/scheduler/runs/42"));

    [Fact]
    public async Task An_unknown_run_is_a_404() =>
        ApiAssert.Error(HttpStatusCode.NotFound, "Run not found", await SendAsync(HttpMethod.Get, $"/api/scheduler/runs/{Guid.NewGuid()}"));

    [Fact]
    public async Task The_stored_schedule_is_what_every_instance_reports()
    {
        await PostAsync("""{"action":"start","intervalMinutes":45}""");

        // A second instance of the service over the same database: the state is shared, not per process.
        await using var otherInstance = new ServiceApp<Program>(fixture);
        var other = await otherInstance.CreateClient().GetFromJsonAsync<JsonElement>("/api/scheduler");
        await PostAsync("""{"action":"stop"}""");

        Assert.True(other.GetProperty("data").GetProperty("isRunning").GetBoolean());
        Assert.Equal(45, other.GetProperty("data").GetProperty("intervalMinutes").GetInt32());
    }
}
