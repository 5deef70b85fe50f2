using CrewPlatform.CrewCaller.Tests.Support;

namespace CrewPlatform.CrewCaller.Tests.Integration;

/// <summary>Settings for <see cref="KillSwitchTests"/>: one call at a time, one attempt, a switch that trips on the third failure.</summary>
public sealed class KillSwitchedCrewCaller : CrewCallerApp
{
    protected override IReadOnlyDictionary<string, string?> CrewSettings => new Dictionary<string, string?>
    {
        ["CREW_MAX_CONCURRENCY"] = "1",
        ["CREW_MAX_ATTEMPTS"] = "1",
        ["CREW_API_TIMEOUT_SECONDS"] = "2",
        ["CREW_CIRCUIT_ACTIVATION_THRESHOLD"] = "2",
        ["CREW_CIRCUIT_TRIP_PERCENT"] = "50",
        ["CREW_CIRCUIT_RESTART_SECONDS"] = "4",
    };
}

public sealed class KillSwitchTests(KillSwitchedCrewCaller app) : IClassFixture<KillSwitchedCrewCaller>
{
    [Fact]
    public async Task While_the_crew_API_is_down_consumption_stops_and_the_waiting_users_are_answered_once_it_is_back()
    {
        app.Fake.State.Reset();
        app.Fake.State.SetBehaviour(app.Fake.State.Behaviour with { FailureRate = 1 });
        var commands = Enumerable.Range(0, 10).Select(_ => CrewCallerApp.NewCommand()).ToList();

        foreach (var command in commands)
        {
            await app.SendAsync(command);
        }

        await Testing.Eventually.HoldsAsync(() => app.Failed.Count >= 3, "three users failed and the kill switch tripped", TimeSpan.FromSeconds(30));
        app.Fake.State.SetBehaviour(app.Fake.State.Behaviour with { FailureRate = 0 });
        await Testing.Eventually.HoldsAsync(
            () => app.Failed.Count + app.Received.Count == commands.Count,
            "every user has either an answer or a recorded failure",
            TimeSpan.FromSeconds(60));

        // Without the switch all ten would have failed within milliseconds, long before the API came back.
        Assert.InRange(app.Failed.Count, 3, 4);
        Assert.Equal(commands.Count - app.Failed.Count, app.Received.Count);
        Assert.Equal(commands.Count, app.Fake.State.Stats().Received);
    }
}
