using System.Diagnostics;
using System.Net;
using System.Text.Json;
using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Runs;
using CrewPlatform.Scheduler.Scheduling;
using CrewPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>The wire contract of spend and cancel: budgets in, cancel, the dry-run preview, and spend per schedule.</summary>
public sealed class SpendAndCancelApiTests(SegmentedSchedulerFixture fixture) : IClassFixture<SegmentedSchedulerFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly HttpClient client = fixture.App.CreateClient();

    private Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string url, string? json = null) =>
        client.SendJsonAsync(method, url, json);

    private async Task<JsonElement> RunAsync(Guid runId) => (await SendAsync(HttpMethod.Get, $"/api/scheduler/runs/{runId}")).Body.GetProperty("data");

    private Task<long> RowsAsync() =>
        fixture.ScalarAsync<long>("SELECT (SELECT count(*) FROM scheduler.runs) + (SELECT count(*) FROM scheduler.run_users) + (SELECT count(*) FROM scheduler.schedule)");

    [Theory]
    [InlineData("""{"action":"run-now","maxSpendPerRun":-1}""", "maxSpendPerRun must be a number of 0 or more")]
    [InlineData("""{"action":"run-now","maxSpendPerDay":"5"}""", "maxSpendPerDay must be a number of 0 or more")]
    [InlineData("""{"action":"run-now","maxCallsPerRun":0}""", "maxCallsPerRun must be a whole number of 1 or more")]
    [InlineData("""{"action":"run-now","maxCallsPerRun":1.5}""", "maxCallsPerRun must be a whole number of 1 or more")]
    [InlineData("""{"action":"run-now","dryRun":"yes"}""", "dryRun must be true or false")]
    public async Task A_bad_budget_on_run_now_gets_400_with_the_envelope(string json, string error)
    {
        ApiAssert.Error(HttpStatusCode.BadRequest, error, await SendAsync(HttpMethod.Post, "/api/scheduler", json));
    }

    [Theory]
    [InlineData("""{"name":"b","intervalMinutes":60,"maxSpendPerDay":-0.01}""", "maxSpendPerDay must be a number of 0 or more")]
    [InlineData("""{"name":"b","intervalMinutes":60,"maxCallsPerRun":true}""", "maxCallsPerRun must be a whole number of 1 or more")]
    [InlineData("""{"name":"b","intervalMinutes":60,"maxSpendPerRun":[1]}""", "maxSpendPerRun must be a number of 0 or more")]
    public async Task A_bad_budget_on_a_schedule_gets_400_with_the_envelope(string json, string error)
    {
        ApiAssert.Error(HttpStatusCode.BadRequest, error, await SendAsync(HttpMethod.Post, "/api/scheduler/schedules", json));
    }

    [Fact]
    public async Task Cancel_answers_202_twice_for_a_running_run_404_for_an_unknown_one_and_409_for_a_finished_one()
    {
        await fixture.AddTieredUsersAsync(("cancel-1", null), ("cancel-2", null));
        await fixture.ExecuteAsync("INSERT INTO users (uid) VALUES ('cancel-empty') ON CONFLICT DO NOTHING");
        var started = await SendAsync(HttpMethod.Post, "/api/scheduler", """{"action":"run-now","userUids":["cancel-1","cancel-2"],"maxCallsPerRun":5}""");
        var runId = started.Body.GetProperty("data").GetProperty("runId").GetGuid();

        // Plays the crew caller: the API waits until it has recorded the cancel (else up to RunCancellation.RecordedWithin).
        await using var crewCaller = await new BusListener(fixture)
            .Answer<CrewRunCancelled, CrewRunCancelRecorded>("cancel-api-tests-crew-caller", cancel => new CrewRunCancelRecorded { RunId = cancel.RunId })
            .StartAsync();
        var asked = Stopwatch.StartNew();
        var first = await SendAsync(HttpMethod.Post, $"/api/scheduler/runs/{runId}/cancel");
        var again = await SendAsync(HttpMethod.Post, $"/api/scheduler/runs/{runId}/cancel");
        Assert.True(asked.Elapsed < RunCancellation.RecordedWithin, $"both cancels were answered by the crew caller, yet took {asked.Elapsed}");
        Assert.Equal([runId, runId], crewCaller.Received<CrewRunCancelled>().Select(c => c.RunId));

        foreach (var (status, body, _) in new[] { first, again })
        {
            Assert.Equal(HttpStatusCode.Accepted, status);
            Assert.Equal("Run cancelling", body.GetProperty("message").GetString());
            Assert.Equal(runId, body.GetProperty("data").GetProperty("runId").GetGuid());
            Assert.Equal($"/api/scheduler/runs/{runId}", body.GetProperty("data").GetProperty("statusUrl").GetString());
        }

        var run = await RunAsync(runId);
        Assert.Equal("running", run.GetProperty("status").GetString());
        Assert.Equal(5, run.GetProperty("maxCallsPerRun").GetInt32());
        var cancelledAt = run.GetProperty("cancelRequestedAt").GetDateTimeOffset();
        Assert.Equal(fixture.Clock.GetUtcNow(), cancelledAt);

        ApiAssert.Error(HttpStatusCode.NotFound, "Run not found", await SendAsync(HttpMethod.Post, $"/api/scheduler/runs/{Guid.NewGuid()}/cancel"));
        ApiAssert.Error(HttpStatusCode.BadRequest, "Invalid run ID", await SendAsync(HttpMethod.Post, "/api/scheduler/runs/nope/cancel"));

        // A run of one user with neither context nor goal completes as it starts.
        var done = await SendAsync(HttpMethod.Post, "/api/scheduler", """{"action":"run-now","userUids":["cancel-empty"]}""");
        var doneId = done.Body.GetProperty("data").GetProperty("runId").GetGuid();
        Assert.Equal("completed", (await RunAsync(doneId)).GetProperty("status").GetString());
        ApiAssert.Error(HttpStatusCode.Conflict, "Run has already finished", await SendAsync(HttpMethod.Post, $"/api/scheduler/runs/{doneId}/cancel"));
    }

    [Fact]
    public async Task The_preview_names_the_users_a_real_run_then_dispatches_and_changes_no_row()
    {
        await fixture.AddTieredUsersAsync(("preview-3", "paid"), ("preview-1", "enterprise"), ("preview-2", "paid"), ("preview-4", "free"));
        await fixture.ExecuteAsync("INSERT INTO users (uid, tier) VALUES ('preview-0', 'paid') ON CONFLICT DO NOTHING");
        var rows = await RowsAsync();

        var (status, body, _) = await SendAsync(HttpMethod.Post, "/api/scheduler",
            """{"action":"run-now","segment":"paid","endpoint":"paid","maxCallsPerRun":2,"dryRun":true}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var preview = body.GetProperty("data");
        Assert.True(preview.GetProperty("dryRun").GetBoolean());
        var users = preview.GetProperty("users");
        Assert.Equal(3, users.GetProperty("count").GetInt32());
        Assert.Equal(["preview-1", "preview-2", "preview-3"], users.GetProperty("first").EnumerateArray().Select(u => u.GetString()));
        Assert.Equal(2, preview.GetProperty("expectedCalls").GetInt32());
        Assert.Equal(0m, preview.GetProperty("expectedSpend").GetDecimal());
        Assert.Equal("USD", preview.GetProperty("currency").GetString());
        Assert.Equal(Math.Round(2 * RunPreview.DefaultCallDuration.TotalSeconds / 8, 1), preview.GetProperty("expectedDurationSeconds").GetDouble());
        Assert.Equal("paid", preview.GetProperty("endpoint").GetString());
        Assert.Equal(rows, await RowsAsync());

        var started = await SendAsync(HttpMethod.Post, "/api/scheduler", """{"action":"run-now","segment":"paid","endpoint":"paid"}""");
        var runId = started.Body.GetProperty("data").GetProperty("runId").GetGuid();
        await Eventually.HoldsAsync(async () => (await RunAsync(runId)).GetProperty("fanOutCompleted").GetBoolean(), "the run fanned out", Timeout);
        var dispatched = await fixture.ScalarAsync<string[]>(
            "SELECT array_agg(user_uid ORDER BY user_uid) FROM scheduler.run_users WHERE run_id = $1 AND status = 'dispatched'", runId);
        Assert.Equal(users.GetProperty("first").EnumerateArray().Select(u => u.GetString()), dispatched!);
    }

    [Fact]
    public async Task A_schedule_shows_its_budget_and_spend_today_and_this_month_and_a_spent_daily_budget_skips_its_due_time()
    {
        var created = await SendAsync(HttpMethod.Post, "/api/scheduler/schedules",
            """{"name":"budgeted","segment":"free","intervalMinutes":60,"maxCallsPerRun":50,"maxSpendPerRun":2,"maxSpendPerDay":1.5}""");
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var schedule = created.Body.GetProperty("data");
        var id = schedule.GetProperty("id").GetInt32();
        Assert.Equal((50, 2m, 1.5m, 0m, false, "USD"), (
            schedule.GetProperty("maxCallsPerRun").GetInt32(), schedule.GetProperty("maxSpendPerRun").GetDecimal(),
            schedule.GetProperty("maxSpendPerDay").GetDecimal(), schedule.GetProperty("spentToday").GetDecimal(),
            schedule.GetProperty("budgetExhaustedToday").GetBoolean(), schedule.GetProperty("currency").GetString()));

        // Two runs of today (one of them spent the daily budget) and one of earlier this month.
        var now = fixture.Clock.GetUtcNow();
        var today = ScheduleMath.StartOfUtcDay(now);
        foreach (var (startedAt, spent) in new[] { (today.AddMinutes(1), 1.0m), (now, 0.5m), (ScheduleMath.StartOfUtcMonth(now), 4m) })
        {
            await fixture.ExecuteAsync(
                """
                INSERT INTO scheduler.runs (id, trigger, schedule_id, segment, started_at, completed_at, status, dispatched, succeeded, failed, skipped,
                    fan_out_completed, next_page_number, last_progress_at, spent)
                VALUES (gen_random_uuid(), 'schedule', $1, 'free', $2, $2, 'completed', 0, 0, 0, 0, true, 1, $2, $3)
                """, id, startedAt, spent);
        }

        var view = (await SendAsync(HttpMethod.Get, $"/api/scheduler/schedules/{id}")).Body.GetProperty("data");
        Assert.Equal((1.5m, 5.5m, true), (
            view.GetProperty("spentToday").GetDecimal(), view.GetProperty("spentThisMonth").GetDecimal(), view.GetProperty("budgetExhaustedToday").GetBoolean()));

        fixture.Clock.SetUtcNow(view.GetProperty("nextRunAt").GetDateTimeOffset());
        await using (var scope = fixture.App.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<ScheduleService>().TickAsync(CancellationToken.None);
        }

        var runs = (await SendAsync(HttpMethod.Get, $"/api/scheduler/runs?scheduleId={id}&limit=1")).Body.GetProperty("data");
        var skipped = Assert.Single(runs.EnumerateArray());
        Assert.Equal(("skipped", "budget"), (skipped.GetProperty("status").GetString(), skipped.GetProperty("skipReason").GetString()));

        var cleared = await SendAsync(HttpMethod.Patch, $"/api/scheduler/schedules/{id}", """{"maxSpendPerDay":null,"maxCallsPerRun":10}""");
        var changed = cleared.Body.GetProperty("data");
        Assert.Equal((JsonValueKind.Null, 10, 2m), (
            changed.GetProperty("maxSpendPerDay").ValueKind, changed.GetProperty("maxCallsPerRun").GetInt32(), changed.GetProperty("maxSpendPerRun").GetDecimal()));
    }

    [Fact]
    public async Task The_retry_failed_preview_lists_the_failed_users_and_changes_no_row()
    {
        var runId = Guid.NewGuid();
        await fixture.ExecuteAsync(
            """
            INSERT INTO scheduler.runs (id, trigger, segment, started_at, completed_at, status, dispatched, succeeded, failed, skipped,
                fan_out_completed, next_page_number, last_progress_at, cancelled, cancel_requested_at, max_calls_per_run)
            VALUES ($1, 'manual', 'all', $2, $2, 'cancelled', 3, 1, 2, 0, true, 1, $2, 1, $2, 1)
            """, runId, fixture.Clock.GetUtcNow());
        await fixture.ExecuteAsync(
            """
            INSERT INTO scheduler.run_users (run_id, user_uid, status, reason) VALUES
                ($1, 'retry-b', 'failed', 'HTTP 500'), ($1, 'retry-a', 'failed', 'HTTP 500'), ($1, 'retry-c', 'succeeded', NULL), ($1, 'retry-d', 'cancelled', NULL)
            """, runId);
        var rows = await RowsAsync();

        var (status, body, _) = await SendAsync(HttpMethod.Post, $"/api/scheduler/runs/{runId}/retry-failed?dryRun=true");

        Assert.Equal(HttpStatusCode.OK, status);
        var preview = body.GetProperty("data");
        Assert.Equal(2, preview.GetProperty("users").GetProperty("count").GetInt32());
        Assert.Equal(["retry-a", "retry-b"], preview.GetProperty("users").GetProperty("first").EnumerateArray().Select(u => u.GetString()));
        Assert.Equal((1, "default"), (preview.GetProperty("expectedCalls").GetInt32(), preview.GetProperty("endpoint").GetString()));
        Assert.Equal(rows, await RowsAsync());
        Assert.Equal("cancelled", (await RunAsync(runId)).GetProperty("status").GetString());
        ApiAssert.Error(HttpStatusCode.BadRequest, "dryRun must be true or false", await SendAsync(HttpMethod.Post, $"/api/scheduler/runs/{runId}/retry-failed?dryRun=1"));
        ApiAssert.Error(HttpStatusCode.NotFound, "Run not found", await SendAsync(HttpMethod.Post, $"/api/scheduler/runs/{Guid.NewGuid()}/retry-failed?dryRun=true"));

        // Retried for real, the cancelled run reopens with its cancel cleared; its users are not in the users table, so
        // their replays fail at once and the run ends again: completed, not cancelled.
        var retried = await SendAsync(HttpMethod.Post, $"/api/scheduler/runs/{runId}/retry-failed");
        Assert.Equal(HttpStatusCode.Accepted, retried.Status);
        var ended = await RunAsync(runId);
        Assert.Equal(("completed", JsonValueKind.Null, 2), (
            ended.GetProperty("status").GetString(), ended.GetProperty("cancelRequestedAt").ValueKind, ended.GetProperty("failed").GetInt32()));
    }
}
