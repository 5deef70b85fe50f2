using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.Contracts;
using CrewPlatform.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>
/// <c>POST /api/scheduler/runs/{id}/retry-failed</c> through the real service, real RabbitMQ and real PostgreSQL, with a
/// stand-in crew caller answering for the users.
/// </summary>
public sealed class RetryFailedTests(SchedulerAppFixture fixture) : IClassFixture<SchedulerAppFixture>
{
    private readonly HttpClient client = fixture.App.CreateClient();

    /// <summary>A run-now over exactly these users, once the crew caller has each one's command.</summary>
    private async Task<Guid> RunOverAsync(CrewCallerStandIn crewCaller, params string[] userUids)
    {
        await fixture.ExecuteAsync("TRUNCATE public.users");
        await fixture.AddUsersAsync(userUids.Select(uid => (uid, (string?)$"context of {uid}", (string?)null)));
        var response = await client.PostAsJsonAsync("/api/scheduler", new { action = "run-now" });
        var runId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("runId").GetGuid();
        await Eventually.HoldsAsync(() => crewCaller.Commands.Count(c => c.RunId == runId) == userUids.Length, "the crew caller has every user's command");
        return runId;
    }

    private static Task StoredAsync(CrewCallerStandIn crewCaller, Guid runId, string userUid) =>
        crewCaller.Publisher.Publish(new CrewResponseStored { RunId = runId, UserUid = userUid, ResponseId = 1, StoredAt = DateTimeOffset.UtcNow });

    private static Task FailedAsync(CrewCallerStandIn crewCaller, Guid runId, string userUid) =>
        crewCaller.Publisher.Publish(new CrewCallFailed
        {
            RunId = runId, UserUid = userUid, Reason = "HTTP 500 from crew API", StatusCode = 500, Attempts = 4, FailedAt = DateTimeOffset.UtcNow,
        });

    private async Task<JsonElement> RunDetailsAsync(Guid runId) =>
        (await client.GetFromJsonAsync<JsonElement>($"/api/scheduler/runs/{runId}")).GetProperty("data");

    private Task WhenCompletedAsync(CrewCallerStandIn crewCaller, Guid runId, int times) =>
        Eventually.HoldsAsync(() => crewCaller.Completed.Count(c => c.RunId == runId) == times, $"run {runId} announced its completion {times} times");

    private async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> RetryAsync(string runId)
    {
        var response = await client.PostAsync($"/api/scheduler/runs/{runId}/retry-failed", null);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>(), response);
    }

    [Fact]
    public async Task Retry_failed_of_a_run_id_that_is_not_a_guid_is_a_400() =>
        ApiAssert.Error(HttpStatusCode.BadRequest, "Invalid run ID", await RetryAsync("42"));

    [Fact]
    public async Task Retry_failed_of_an_unknown_run_is_a_404() =>
        ApiAssert.Error(HttpStatusCode.NotFound, "Run not found", await RetryAsync(Guid.NewGuid().ToString()));

    [Fact]
    public async Task Retry_failed_while_the_run_is_still_running_is_a_409_and_changes_nothing()
    {
        await using var crewCaller = await CrewCallerStandIn.StartAsync(fixture);
        var runId = await RunOverAsync(crewCaller, "busy-1", "busy-2");
        await FailedAsync(crewCaller, runId, "busy-1");
        await Eventually.HoldsAsync(async () => (await RunDetailsAsync(runId)).GetProperty("failed").GetInt32() == 1, "the failure was recorded");

        var retry = await RetryAsync(runId.ToString());

        ApiAssert.Error(HttpStatusCode.Conflict, "Run is still running; retry its failed users once it has completed", retry);
        var run = await RunDetailsAsync(runId);
        Assert.Equal(("running", 1), (run.GetProperty("status").GetString(), run.GetProperty("failed").GetInt32()));
    }

    [Fact]
    public async Task Retry_failed_replays_the_failed_users_and_the_run_completes_again_as_their_answers_arrive()
    {
        await using var crewCaller = await CrewCallerStandIn.StartAsync(fixture);
        var runId = await RunOverAsync(crewCaller, "retry-1", "retry-2", "retry-3");
        await StoredAsync(crewCaller, runId, "retry-1");
        await FailedAsync(crewCaller, runId, "retry-2");
        await FailedAsync(crewCaller, runId, "retry-3");
        await WhenCompletedAsync(crewCaller, runId, times: 1);

        var (status, body, response) = await RetryAsync(runId.ToString());

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.True(body.GetProperty("success").GetBoolean());
        Assert.Equal("Retrying 2 failed users", body.GetProperty("message").GetString());
        var data = body.GetProperty("data");
        Assert.Equal((runId, 2), (data.GetProperty("runId").GetGuid(), data.GetProperty("retried").GetInt32()));
        Assert.Equal($"/api/scheduler/runs/{runId}", data.GetProperty("statusUrl").GetString());
        Assert.Equal($"/api/scheduler/runs/{runId}", response.Headers.Location?.ToString());

        var reopened = await RunDetailsAsync(runId);
        Assert.Equal(("running", 3, 1, 0), (reopened.GetProperty("status").GetString(), reopened.GetProperty("dispatched").GetInt32(),
            reopened.GetProperty("succeeded").GetInt32(), reopened.GetProperty("failed").GetInt32()));
        Assert.Equal(JsonValueKind.Null, reopened.GetProperty("completedAt").ValueKind);

        await Eventually.HoldsAsync(() => crewCaller.Commands.Count(c => c.RunId == runId && c.ReplayFailed) == 2, "both replays reached the crew caller");
        var replays = crewCaller.Commands.Where(c => c.RunId == runId && c.ReplayFailed).OrderBy(c => c.UserUid, StringComparer.Ordinal).ToList();
        Assert.Equal(["retry-2", "retry-3"], replays.Select(c => c.UserUid));
        Assert.Equal("context of retry-2", replays[0].Context);

        await StoredAsync(crewCaller, runId, "retry-2");
        await Eventually.HoldsAsync(async () => (await RunDetailsAsync(runId)).GetProperty("succeeded").GetInt32() == 2, "the first replay's answer was counted");
        Assert.Equal("running", (await RunDetailsAsync(runId)).GetProperty("status").GetString());

        await StoredAsync(crewCaller, runId, "retry-3");
        await WhenCompletedAsync(crewCaller, runId, times: 2);
        var again = crewCaller.Completed.Where(c => c.RunId == runId).MaxBy(c => c.CompletedAt)!;
        Assert.Equal((3, 3, 0, 0), (again.Dispatched, again.Succeeded, again.Failed, again.Skipped));
        var run = await RunDetailsAsync(runId);
        Assert.Equal(("completed", 3, 0), (run.GetProperty("status").GetString(), run.GetProperty("succeeded").GetInt32(), run.GetProperty("failed").GetInt32()));
        Assert.Empty(run.GetProperty("failedUsers").EnumerateArray());
    }

    [Fact]
    public async Task Retry_failed_of_a_run_without_failed_users_answers_202_and_changes_nothing()
    {
        await using var crewCaller = await CrewCallerStandIn.StartAsync(fixture);
        var runId = await RunOverAsync(crewCaller, "fine-1");
        await StoredAsync(crewCaller, runId, "fine-1");
        await WhenCompletedAsync(crewCaller, runId, times: 1);
        var before = await RunDetailsAsync(runId);

        var (status, body, _) = await RetryAsync(runId.ToString());

        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal("Retrying 0 failed users", body.GetProperty("message").GetString());
        Assert.Equal(0, body.GetProperty("data").GetProperty("retried").GetInt32());
        Assert.Equal(before.GetRawText(), (await RunDetailsAsync(runId)).GetRawText());
        Assert.Equal(1L, await fixture.ScalarAsync<long>("SELECT count(*) FROM scheduler.runs WHERE id = $1 AND completion_published_at IS NOT NULL", runId));
    }

    [Fact]
    public async Task A_failed_user_who_left_the_users_table_fails_again_on_retry_and_the_others_are_replayed()
    {
        await using var crewCaller = await CrewCallerStandIn.StartAsync(fixture);
        var runId = await RunOverAsync(crewCaller, "gone-1", "gone-2");
        await FailedAsync(crewCaller, runId, "gone-1");
        await FailedAsync(crewCaller, runId, "gone-2");
        await WhenCompletedAsync(crewCaller, runId, times: 1);
        await fixture.ExecuteAsync("DELETE FROM public.users WHERE uid = 'gone-2'");

        var (status, body, _) = await RetryAsync(runId.ToString());
        await Eventually.HoldsAsync(() => crewCaller.Commands.Any(c => c.RunId == runId && c.ReplayFailed), "the replay reached the crew caller");
        await StoredAsync(crewCaller, runId, "gone-1");
        await WhenCompletedAsync(crewCaller, runId, times: 2);

        Assert.Equal((HttpStatusCode.Accepted, 2), (status, body.GetProperty("data").GetProperty("retried").GetInt32()));
        Assert.Equal("gone-1", Assert.Single(crewCaller.Commands, c => c.RunId == runId && c.ReplayFailed).UserUid);
        var run = await RunDetailsAsync(runId);
        Assert.Equal((1, 1), (run.GetProperty("succeeded").GetInt32(), run.GetProperty("failed").GetInt32()));
        var failed = Assert.Single(run.GetProperty("failedUsers").EnumerateArray());
        Assert.Equal(("gone-2", "user no longer exists"), (failed.GetProperty("userUid").GetString(), failed.GetProperty("reason").GetString()));
    }
}
