using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace CrewPlatform.EndToEnd;

/// <summary>Run-now for listed users, through the gateway and every service: the crew API is called for exactly those users.</summary>
[Collection(LocalStackCollection.Name)]
public sealed class TargetedRunTests(LocalStack stack)
{
    [Fact]
    public async Task A_run_of_three_listed_uids_calls_the_crew_api_for_exactly_those_three()
    {
        var listed = stack.Users.Where(u => !string.IsNullOrWhiteSpace(u.Context)).Skip(4).Take(3).Select(u => u.Uid).ToArray();

        using var response = await stack.Gateway.PostAsJsonAsync("/api/scheduler", new { action = "run-now", userUids = listed });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"run-now answered {(int)response.StatusCode}: {body}");
        using var started = JsonDocument.Parse(body);
        var runId = started.RootElement.GetProperty("data").GetProperty("runId").GetGuid();

        var run = await stack.WaitForRunCompletedAsync(runId);
        Assert.Equal(3, run.GetProperty("dispatched").GetInt32());
        Assert.Equal(3, run.GetProperty("succeeded").GetInt32());

        using var fake = new HttpClient { BaseAddress = LocalStack.FakeCrewUrl };
        using var calls = JsonDocument.Parse(await fake.GetStringAsync("/calls"));
        var calledForRun = calls.RootElement.EnumerateArray()
            .Select(c => c.GetProperty("idempotencyKey").GetString())
            .Where(key => key is not null && key.StartsWith($"{runId}:", StringComparison.Ordinal))
            .Select(key => key![(runId.ToString().Length + 1)..])
            .ToList();
        Assert.Equal(listed.Order(), calledForRun.Order());
    }

    [Fact]
    public async Task A_second_run_with_skipUnchanged_calls_the_crew_api_only_for_the_user_whose_goal_changed()
    {
        var listed = stack.Users.Where(u => !string.IsNullOrWhiteSpace(u.Goal)).Skip(10).Take(3).ToArray();
        var changed = listed[1];
        var uids = listed.Select(u => u.Uid).ToArray();

        var first = await RunNowAsync(new { action = "run-now", userUids = uids });
        Assert.Equal(3, (await stack.WaitForRunCompletedAsync(first)).GetProperty("succeeded").GetInt32());
        Assert.Equal(uids.Order(), (await CalledForRunAsync(first)).Order());

        await stack.ExecuteAsync("UPDATE users SET goal = goal || ' (revised)' WHERE uid = $1", changed.Uid);
        try
        {
            var second = await RunNowAsync(new { action = "run-now", userUids = uids, skipUnchanged = new { freshForMinutes = 60 } });
            var run = await stack.WaitForRunCompletedAsync(second);

            Assert.Equal((1, 1, 2), (run.GetProperty("dispatched").GetInt32(), run.GetProperty("succeeded").GetInt32(), run.GetProperty("unchanged").GetInt32()));
            Assert.Equal([changed.Uid], await CalledForRunAsync(second));
        }
        finally
        {
            await stack.ExecuteAsync("UPDATE users SET goal = $2 WHERE uid = $1", changed.Uid, changed.Goal!);
        }
    }

    private async Task<Guid> RunNowAsync(object request)
    {
        using var response = await stack.Gateway.PostAsJsonAsync("/api/scheduler", request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"run-now answered {(int)response.StatusCode}: {body}");
        using var started = JsonDocument.Parse(body);
        return started.RootElement.GetProperty("data").GetProperty("runId").GetGuid();
    }

    /// <summary>The users the fake crew API was called for in a run, by the calls' Idempotency-Key.</summary>
    private static async Task<List<string>> CalledForRunAsync(Guid runId)
    {
        using var fake = new HttpClient { BaseAddress = LocalStack.FakeCrewUrl };
        using var calls = JsonDocument.Parse(await fake.GetStringAsync("/calls"));
        return calls.RootElement.EnumerateArray()
            .Select(c => c.GetProperty("idempotencyKey").GetString())
            .Where(key => key is not null && key.StartsWith($"{runId}:", StringComparison.Ordinal))
            .Select(key => key![(runId.ToString().Length + 1)..])
            .ToList();
    }

    [Fact]
    public async Task Unknown_uids_are_named_in_a_400_and_start_nothing()
    {
        using var response = await stack.Gateway.PostAsJsonAsync(
            "/api/scheduler", new { action = "run-now", userUids = new[] { stack.Users[0].Uid, "e2e-nobody-1", "e2e-nobody-2" } });
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.False(json.RootElement.GetProperty("success").GetBoolean());
        Assert.Equal("2 unknown user uids: e2e-nobody-1, e2e-nobody-2", json.RootElement.GetProperty("error").GetString());
    }
}
