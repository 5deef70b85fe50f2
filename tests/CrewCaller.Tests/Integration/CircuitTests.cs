using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.CrewCaller.Tests.Support;
using CrewPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CrewPlatform.CrewCaller.Tests.Integration;

/// <summary>
/// Settings for the circuit tests: two calls at once, three attempts per user, and a circuit that judges the two users
/// in flight (fewer than its threshold of four) and trips when one of them failed twice, then probes after one second.
/// </summary>
public sealed class CircuitSettings : ICrewSettingsProfile
{
    public static IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>
    {
        ["CREW_MAX_CONCURRENCY"] = "2",
        ["CREW_MAX_ATTEMPTS"] = "3",
        ["CREW_API_TIMEOUT_SECONDS"] = "1",
        ["CREW_RETRY_BASE_DELAY_MS"] = "50",
        ["CREW_CIRCUIT_ACTIVATION_THRESHOLD"] = "4",
        ["CREW_CIRCUIT_TRIP_PERCENT"] = "50",
        ["CREW_CIRCUIT_RESTART_SECONDS"] = "1",
    };
}

/// <summary>What both circuit tests do with their service.</summary>
public static class CircuitScenario
{
    extension(CrewCallerApp<CircuitSettings> app)
    {
        public CrewApiCircuit Circuit => app.Services.GetRequiredService<CrewEndpoints>().For(null).Circuit;

        /// <summary>
        /// Sends six users to an API that fails the next <paramref name="failures"/> attempts as <paramref name="step"/>,
        /// sees the circuit open, and waits until every user has an outcome.
        /// </summary>
        public async Task<List<Contracts.RunCrewForUser>> SendWhileFailingAsync(string step, int failures)
        {
            app.Fake.State.Reset();
            app.Fake.State.SetBehaviour(app.Fake.State.Behaviour with { RetryAfterSeconds = 0 });
            app.Fake.State.AddScript(Enumerable.Repeat(step, failures));
            var commands = Enumerable.Range(0, 6).Select(_ => Messages.RunCrewForUser()).ToList();
            foreach (var command in commands)
            {
                await app.SendAsync(command);
            }

            await Testing.Eventually.HoldsAsync(() => app.Circuit.State != CrewApiCircuitState.Closed, "the circuit opened", TimeSpan.FromSeconds(20));
            await Testing.Eventually.HoldsAsync(
                () => commands.All(c => app.ReceivedFor(c).Count > 0 || app.Failed.Any(f => f.UserUid == c.UserUid)),
                "every user has an outcome",
                TimeSpan.FromSeconds(30));
            return commands;
        }
    }
}

/// <summary>The circuit over real RabbitMQ and PostgreSQL with the fake crew API answering 503.</summary>
public sealed class CircuitOn503Tests(CrewCallerApp<CircuitSettings> app) : IClassFixture<CrewCallerApp<CircuitSettings>>
{
    [Fact]
    public async Task A_crew_API_answering_503_trips_the_circuit_and_once_it_recovers_every_user_is_answered_none_failed()
    {
        // The first two users fail twice each: the third failure trips the circuit, the fourth is made while it is open
        // and counts too (the API answered it), so each has one attempt left; the probe is the user that waited longest.
        var commands = await app.SendWhileFailingAsync("503", failures: 4);

        Assert.Empty(app.Failed);
        Assert.All(commands, command => Assert.Single(app.ReceivedFor(command)));
        Assert.Equal(CrewApiCircuitState.Closed, app.Circuit.State);
        Assert.Equal(4 + commands.Count, app.Fake.State.Stats().Received);
    }
}

/// <summary>The circuit with the fake crew API hanging until the attempt timeout.</summary>
public sealed class CircuitOnHangTests(CrewCallerApp<CircuitSettings> app) : IClassFixture<CrewCallerApp<CircuitSettings>>
{
    [Fact]
    public async Task Hanging_calls_trip_the_circuit_too_and_every_user_is_answered_once_it_recovers()
    {
        var commands = await app.SendWhileFailingAsync("hang", failures: 4);

        Assert.Empty(app.Failed);
        Assert.All(commands, command => Assert.Single(app.ReceivedFor(command)));
        Assert.Equal(4, app.Fake.State.Stats().Abandoned);
    }
}
