using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.Contracts;
using CrewPlatform.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>The Scheduler alone on a fresh virtual host, with a second crew endpoint configured and no crew caller ever started.</summary>
public sealed class SchedulerAloneFixture : SchedulerAppFixture
{
    public const string SecondEndpoint = "paid";

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["CREW_API_URL"] = CrewApiUrl,
        [$"CREW_ENDPOINTS:{SecondEndpoint}:Url"] = "http://paid-crew.test/run-crew",
    };
}

/// <summary>
/// Nothing the Scheduler sends goes into the void: it declares every crew caller queue (each endpoint at each priority)
/// when it starts, so commands wait there for a crew caller that has not started yet.
/// </summary>
public sealed class CommandQueuesTests(SchedulerAloneFixture fixture) : IClassFixture<SchedulerAloneFixture>
{
    public static TheoryData<string?, string> Queues => new()
    {
        { null, CrewPriority.Normal },
        { null, CrewPriority.High },
        { SchedulerAloneFixture.SecondEndpoint, CrewPriority.Normal },
        { SchedulerAloneFixture.SecondEndpoint, CrewPriority.High },
    };

    [Theory]
    [MemberData(nameof(Queues))]
    public async Task Every_command_queue_exists_as_the_crew_callers_quorum_queue_once_the_scheduler_started_and_nothing_consumes_it(string? endpoint, string priority)
    {
        var queue = QueueNames.RunCrewForUserOn(endpoint, priority);

        await fixture.AssertPlatformQueueAsync(queue);
        Assert.Equal(0, (await fixture.QueueAsync(queue))!.Consumers);
    }

    [Fact]
    public async Task A_run_nows_commands_wait_in_their_queue_though_no_crew_caller_ever_ran()
    {
        await fixture.AddUsersAsync(
        [
            ("alone-1", "context 1", null), ("alone-2", null, "goal 2"), ("alone-3", "context 3", "goal 3"), ("alone-none", null, null),
        ]);

        var client = fixture.App.CreateClient();
        var response = await client.PostAsJsonAsync("/api/scheduler", new { action = "run-now" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var runId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("runId").GetGuid();

        await Eventually.HoldsAsync(
            async () => (await client.GetFromJsonAsync<JsonElement>($"/api/scheduler/runs/{runId}")).GetProperty("data").GetProperty("dispatched").GetInt32() == 3,
            "the run dispatched its three eligible users");
        await Eventually.HoldsAsync(
            async () => (await fixture.QueueAsync(QueueNames.RunCrewForUser))?.MessagesReady == 3,
            $"{QueueNames.RunCrewForUser} holds the three commands ready");

        var waiting = (await fixture.PeekQueueAsync(QueueNames.RunCrewForUser))
            .Select(body => JsonDocument.Parse(body).RootElement.GetProperty("message"))
            .ToList();
        Assert.All(waiting, command => Assert.Equal(runId, command.GetProperty("runId").GetGuid()));
        Assert.Equal(["alone-1", "alone-2", "alone-3"], waiting.Select(command => command.GetProperty("userUid").GetString()).Order());
    }
}
