using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.Testing;
using Xunit.Abstractions;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>Measures (does not assert) how fast one run fans 10,000 users out over real RabbitMQ and PostgreSQL.</summary>
public sealed class FanOutRateMeasurement(SchedulerAppFixture fixture, ITestOutputHelper output) : IClassFixture<SchedulerAppFixture>
{
    private const int Users = 10_000;

    [Fact]
    public async Task A_run_over_10000_users_reaches_the_crew_caller_for_every_one_of_them()
    {
        await using var crewCaller = await CrewCallerStandIn.StartAsync(fixture);
        await fixture.AddUsersAsync(Enumerable.Range(1, Users).Select(i => ($"rate-{i:D6}", (string?)"context", (string?)"goal")));
        var client = fixture.App.CreateClient();

        var stopwatch = Stopwatch.StartNew();
        var response = await client.PostAsJsonAsync("/api/scheduler", new { action = "run-now" });
        var runId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("runId").GetGuid();
        await Eventually.HoldsAsync(() => crewCaller.Received >= Users, $"the crew caller received {Users} commands", TimeSpan.FromMinutes(5));
        stopwatch.Stop();

        var run = (await client.GetFromJsonAsync<JsonElement>($"/api/scheduler/runs/{runId}")).GetProperty("data");
        Assert.Equal(Users, run.GetProperty("dispatched").GetInt32());
        Assert.Equal(Users, crewCaller.Commands.Select(c => c.UserUid).Distinct(StringComparer.Ordinal).Count());
        output.WriteLine(
            $"Fan-out of {Users} users (page size 500): {stopwatch.Elapsed.TotalSeconds:F2} s from run-now to the last command received, " +
            $"{Users / stopwatch.Elapsed.TotalSeconds:F0} users/s");
    }
}
