using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.Contracts;
using CrewPlatform.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>A manual run through the real service, real RabbitMQ and real PostgreSQL, with a stand-in crew caller.</summary>
public sealed class RunOverRabbitMqTests(SchedulerAppFixture fixture) : IClassFixture<SchedulerAppFixture>
{
    [Fact]
    public async Task Run_now_with_50_users_dispatches_50_commands_and_completes_when_all_have_an_outcome()
    {
        await using var crewCaller = await CrewCallerStandIn.StartAsync(fixture);
        await fixture.AddUsersAsync(Enumerable.Range(1, 50).Select(i => ($"rabbit-{i:D3}", (string?)$"context {i}", (string?)null)));
        var client = fixture.App.CreateClient();

        var response = await client.PostAsJsonAsync("/api/scheduler", new { action = "run-now" });
        var runId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("runId").GetGuid();

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await Eventually.HoldsAsync(() => crewCaller.Received >= 50, "the crew caller received 50 commands");
        var commands = crewCaller.Commands.Where(c => c.RunId == runId).ToList();
        Assert.Equal(50, commands.Count);
        Assert.Equal(50, commands.Select(c => c.UserUid).Distinct(StringComparer.Ordinal).Count());

        foreach (var command in commands.Where(c => c.UserUid != "rabbit-007"))
        {
            await crewCaller.Publisher.Publish(new CrewResponseStored { RunId = runId, UserUid = command.UserUid, ResponseId = 1, StoredAt = DateTimeOffset.UtcNow });
        }

        await crewCaller.Publisher.Publish(new CrewCallFailed
        {
            RunId = runId, UserUid = "rabbit-007", Reason = "HTTP 429 from crew API", StatusCode = 429, Attempts = 3, FailedAt = DateTimeOffset.UtcNow,
        });

        await Eventually.HoldsAsync(() => crewCaller.Completed.Any(c => c.RunId == runId), "CrewRunCompleted was published");
        var completed = Assert.Single(crewCaller.Completed, c => c.RunId == runId);
        Assert.Equal((50, 49, 1, 0), (completed.Dispatched, completed.Succeeded, completed.Failed, completed.Skipped));

        var run = (await client.GetFromJsonAsync<JsonElement>($"/api/scheduler/runs/{runId}")).GetProperty("data");
        Assert.Equal("completed", run.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.String, run.GetProperty("completedAt").ValueKind);
        Assert.Equal((50, 49, 1), (run.GetProperty("dispatched").GetInt32(), run.GetProperty("succeeded").GetInt32(), run.GetProperty("failed").GetInt32()));
        var failedUser = Assert.Single(run.GetProperty("failedUsers").EnumerateArray());
        Assert.Equal("rabbit-007", failedUser.GetProperty("userUid").GetString());
        Assert.Equal("HTTP 429 from crew API", failedUser.GetProperty("reason").GetString());
    }
}
