using System.Net;
using System.Text.Json;
using CrewPlatform.Contracts;
using CrewPlatform.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>
/// The wire contract of <c>skipUnchanged</c>: taken by schedules, <c>start</c> and run-now as budgets are, refused in the
/// envelope when malformed, shown on schedules and runs, and run end to end over the real RabbitMQ with a stand-in
/// crew caller: the second run-now of the same users calls only the one whose context changed, and its preview says so.
/// </summary>
public sealed class SkipUnchangedApiTests(SegmentedSchedulerFixture fixture) : IClassFixture<SegmentedSchedulerFixture>
{
    private const string Minutes = "skipUnchanged.freshForMinutes must be a whole number of minutes from 1 to 525600";
    private const string Shape = """skipUnchanged must be an object {"freshForMinutes": N} with N a whole number of minutes from 1 to 525600, or null""";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly HttpClient client = fixture.App.CreateClient();

    private Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> SendAsync(HttpMethod method, string url, string? json = null) =>
        client.SendJsonAsync(method, url, json);

    private async Task<JsonElement> DataAsync(string url) => (await SendAsync(HttpMethod.Get, url)).Body.GetProperty("data");

    private static int? FreshFor(JsonElement view) =>
        view.GetProperty("skipUnchanged") is { ValueKind: JsonValueKind.Object } skip ? skip.GetProperty("freshForMinutes").GetInt32() : null;

    private Task<long> RowsAsync() =>
        fixture.ScalarAsync<long>("SELECT (SELECT count(*) FROM scheduler.runs) + (SELECT sum(coalesce(skip_unchanged_for_minutes, 0)) FROM scheduler.schedule)");

    [Theory]
    [InlineData("POST", "/api/scheduler", """{"action":"run-now","skipUnchanged":60}""", Shape)]
    [InlineData("POST", "/api/scheduler", """{"action":"run-now","skipUnchanged":"60"}""", Shape)]
    [InlineData("POST", "/api/scheduler", """{"action":"run-now","skipUnchanged":[{"freshForMinutes":60}]}""", Shape)]
    [InlineData("POST", "/api/scheduler", """{"action":"run-now","skipUnchanged":{"freshForMinutes":0}}""", Minutes)]
    [InlineData("POST", "/api/scheduler", """{"action":"run-now","skipUnchanged":{"freshForMinutes":525601}}""", Minutes)]
    [InlineData("POST", "/api/scheduler", """{"action":"run-now","skipUnchanged":{"freshForMinutes":1.5}}""", Minutes)]
    [InlineData("POST", "/api/scheduler", """{"action":"run-now","skipUnchanged":{"freshForMinutes":"60"}}""", Minutes)]
    [InlineData("POST", "/api/scheduler", """{"action":"run-now","skipUnchanged":{"freshForMinutes":1e30}}""", Minutes)]
    [InlineData("POST", "/api/scheduler", """{"action":"run-now","skipUnchanged":{}}""", Minutes)]
    [InlineData("POST", "/api/scheduler", """{"action":"run-now","skipUnchanged":{"freshForMinutes":null}}""", Minutes)]
    [InlineData("POST", "/api/scheduler", """{"action":"run-now","dryRun":true,"skipUnchanged":{"freshForMinutes":60,"fresh":5}}""",
        "Unknown field 'fresh': skipUnchanged takes freshForMinutes")]
    [InlineData("POST", "/api/scheduler", """{"action":"start","intervalMinutes":60,"skipUnchanged":{"freshForMinutes":-1}}""", Minutes)]
    [InlineData("POST", "/api/scheduler", """{"action":"stop","skipUnchanged":{"freshForMinutes":60}}""", "Unknown field 'skipUnchanged': stop takes action")]
    [InlineData("POST", "/api/scheduler/schedules", """{"name":"bad-skip","intervalMinutes":60,"skipUnchanged":true}""", Shape)]
    [InlineData("POST", "/api/scheduler/schedules", """{"name":"bad-skip","intervalMinutes":60,"skipUnchanged":{"freshForMinutes":99999999999}}""", Minutes)]
    [InlineData("PATCH", "/api/scheduler/schedules/1", """{"skipUnchanged":{"freshforminutes":60}}""", "Unknown field 'freshforminutes': skipUnchanged takes freshForMinutes")]
    public async Task A_bad_skipUnchanged_gets_400_naming_the_field_and_changes_nothing(string method, string url, string json, string error)
    {
        var rows = await RowsAsync();

        ApiAssert.Error(HttpStatusCode.BadRequest, error, await SendAsync(new HttpMethod(method), url, json));

        Assert.Equal(rows, await RowsAsync());
    }

    [Fact]
    public async Task A_schedule_takes_shows_keeps_and_clears_skipUnchanged_and_start_sets_the_default_schedules()
    {
        var created = await SendAsync(HttpMethod.Post, "/api/scheduler/schedules",
            """{"name":"skipping","segment":"free","intervalMinutes":60,"skipUnchanged":{"freshForMinutes":1440}}""");
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var id = created.Body.GetProperty("data").GetProperty("id").GetInt32();
        Assert.Equal(1440, FreshFor(created.Body.GetProperty("data")));
        Assert.Equal(1440, FreshFor(await DataAsync($"/api/scheduler/schedules/{id}")));

        var kept = await SendAsync(HttpMethod.Patch, $"/api/scheduler/schedules/{id}", """{"intervalMinutes":30}""");
        Assert.Equal(1440, FreshFor(kept.Body.GetProperty("data")));
        var changed = await SendAsync(HttpMethod.Patch, $"/api/scheduler/schedules/{id}", """{"skipUnchanged":{"freshForMinutes":525600}}""");
        Assert.Equal(525600, FreshFor(changed.Body.GetProperty("data")));
        var cleared = await SendAsync(HttpMethod.Patch, $"/api/scheduler/schedules/{id}", """{"skipUnchanged":null}""");
        Assert.Null(FreshFor(cleared.Body.GetProperty("data")));
        Assert.Null(FreshFor((await DataAsync("/api/scheduler/schedules")).EnumerateArray().Single(s => s.GetProperty("id").GetInt32() == id)));

        var started = await SendAsync(HttpMethod.Post, "/api/scheduler", """{"action":"start","intervalMinutes":60,"skipUnchanged":{"freshForMinutes":45}}""");
        Assert.Equal(HttpStatusCode.OK, started.Status);
        Assert.Equal(45, FreshFor(await DataAsync("/api/scheduler/schedules/1")));
        await SendAsync(HttpMethod.Post, "/api/scheduler", """{"action":"start","intervalMinutes":60}""");
        Assert.Equal(45, FreshFor(await DataAsync("/api/scheduler/schedules/1")));
        await SendAsync(HttpMethod.Post, "/api/scheduler", """{"action":"stop"}""");
    }

    [Fact]
    public async Task A_second_run_now_of_the_same_users_calls_only_the_changed_one_and_its_run_and_preview_show_the_unchanged()
    {
        await using var crewCaller = await CrewCallerStandIn.StartAsync(fixture);
        string[] uids = ["skip-api-1", "skip-api-2", "skip-api-3"];
        await fixture.AddTieredUsersAsync([.. uids.Select(uid => (uid, (string?)"paid"))]);
        var list = $"\"userUids\":[{string.Join(",", uids.Select(u => $"\"{u}\""))}]";

        var first = await RunNowAsync($$$"""{"action":"run-now",{{{list}}},"skipUnchanged":{"freshForMinutes":60}}""");
        await Eventually.HoldsAsync(() => crewCaller.Commands.Count(c => c.RunId == first) == 3, "the first run's three users were sent", Timeout);
        foreach (var uid in uids)
        {
            await crewCaller.Publisher.Publish(new CrewResponseStored { RunId = first, UserUid = uid, ResponseId = 1, StoredAt = DateTimeOffset.UtcNow });
        }

        await Eventually.HoldsAsync(async () => (await DataAsync($"/api/scheduler/runs/{first}")).GetProperty("status").GetString() == "completed",
            "the first run completed", Timeout);
        await fixture.ExecuteAsync("UPDATE users SET context = 'a new background' WHERE uid = 'skip-api-2'");

        var preview = (await SendAsync(HttpMethod.Post, "/api/scheduler",
            $$$"""{"action":"run-now",{{{list}}},"dryRun":true,"skipUnchanged":{"freshForMinutes":60}}""")).Body.GetProperty("data");
        Assert.Equal((1, 2, 1), (
            preview.GetProperty("users").GetProperty("count").GetInt32(), preview.GetProperty("users").GetProperty("unchanged").GetInt32(),
            preview.GetProperty("expectedCalls").GetInt32()));
        Assert.Equal(["skip-api-2"], preview.GetProperty("users").GetProperty("first").EnumerateArray().Select(u => u.GetString()));
        var previewOfEveryone = (await SendAsync(HttpMethod.Post, "/api/scheduler", $$$"""{"action":"run-now",{{{list}}},"dryRun":true}""")).Body.GetProperty("data");
        Assert.Equal((3, 0), (previewOfEveryone.GetProperty("users").GetProperty("count").GetInt32(), previewOfEveryone.GetProperty("users").GetProperty("unchanged").GetInt32()));

        var second = await RunNowAsync($$$"""{"action":"run-now",{{{list}}},"skipUnchanged":{"freshForMinutes":60}}""");
        await Eventually.HoldsAsync(() => crewCaller.Commands.Any(c => c.RunId == second), "the second run sent its changed user", Timeout);
        Assert.Equal(["skip-api-2"], crewCaller.Commands.Where(c => c.RunId == second).Select(c => c.UserUid));
        var running = await DataAsync($"/api/scheduler/runs/{second}");
        Assert.Equal((1, 2, 60), (running.GetProperty("dispatched").GetInt32(), running.GetProperty("unchanged").GetInt32(), FreshFor(running)));
        await crewCaller.Publisher.Publish(new CrewResponseStored { RunId = second, UserUid = "skip-api-2", ResponseId = 2, StoredAt = DateTimeOffset.UtcNow });
        await Eventually.HoldsAsync(async () => (await DataAsync($"/api/scheduler/runs/{second}")).GetProperty("status").GetString() == "completed",
            "the second run completed", Timeout);
        var listed = (await DataAsync("/api/scheduler/runs?limit=1000")).EnumerateArray().Single(r => r.GetProperty("id").GetGuid() == second);
        Assert.Equal((1, 2, 60), (listed.GetProperty("succeeded").GetInt32(), listed.GetProperty("unchanged").GetInt32(), FreshFor(listed)));

        // Without skipUnchanged (a run-now's null turns off its schedule's too) everyone is called.
        var third = await RunNowAsync($$$"""{"action":"run-now",{{{list}}},"skipUnchanged":null}""");
        await Eventually.HoldsAsync(() => crewCaller.Commands.Count(c => c.RunId == third) == 3, "the third run sent all three users", Timeout);
        var all = await DataAsync($"/api/scheduler/runs/{third}");
        Assert.Equal((3, 0, (int?)null), (all.GetProperty("dispatched").GetInt32(), all.GetProperty("unchanged").GetInt32(), FreshFor(all)));
    }

    [Fact]
    public async Task A_run_now_of_a_schedule_takes_its_skipUnchanged_unless_it_gives_its_own()
    {
        var created = await SendAsync(HttpMethod.Post, "/api/scheduler/schedules",
            """{"name":"skip-inherit","segment":"staff","intervalMinutes":60,"paused":true,"skipUnchanged":{"freshForMinutes":120}}""");
        var id = created.Body.GetProperty("data").GetProperty("id").GetInt32();

        var inherited = await RunNowAsync($$$"""{"action":"run-now","scheduleId":{{{id}}}}""");
        fixture.Clock.Advance(TimeSpan.FromSeconds(1));
        var own = await RunNowAsync($$$"""{"action":"run-now","scheduleId":{{{id}}},"skipUnchanged":{"freshForMinutes":5}}""");
        fixture.Clock.Advance(TimeSpan.FromSeconds(1));
        var off = await RunNowAsync($$$"""{"action":"run-now","scheduleId":{{{id}}},"skipUnchanged":null}""");

        Assert.Equal(120, FreshFor(await DataAsync($"/api/scheduler/runs/{inherited}")));
        Assert.Equal(5, FreshFor(await DataAsync($"/api/scheduler/runs/{own}")));
        Assert.Null(FreshFor(await DataAsync($"/api/scheduler/runs/{off}")));
        Assert.Equal(off, (await DataAsync($"/api/scheduler/schedules/{id}")).GetProperty("lastRun").GetProperty("id").GetGuid());
        Assert.Equal(0, (await DataAsync($"/api/scheduler/schedules/{id}")).GetProperty("lastRun").GetProperty("unchanged").GetInt32());
    }

    private async Task<Guid> RunNowAsync(string json)
    {
        var (status, body, _) = await SendAsync(HttpMethod.Post, "/api/scheduler", json);
        Assert.Equal(HttpStatusCode.Accepted, status);
        return body.GetProperty("data").GetProperty("runId").GetGuid();
    }
}
