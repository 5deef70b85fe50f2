using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CrewPlatform.CrewCaller.Tests.Harness;

/// <summary>The circuit on a fake clock: when it trips (by users, not attempts), what counts against a user, and how it recovers.</summary>
public sealed class CrewApiCircuitTests
{
    private static readonly CrewAttemptResult Answer = CrewAttemptResult.Answered(200, "{}");
    private static readonly CrewAttemptResult Http503 = CrewAttemptResult.Transient(503, "HTTP 503 from crew API");
    private static readonly CrewAttemptResult Refused = CrewAttemptResult.Unreachable("connection error: ConnectionError");
    private static readonly CrewAttemptResult Rejected = CrewAttemptResult.Permanent(422, "HTTP 422 from crew API");

    private readonly FakeTimeProvider clock = new();

    private readonly CrewApiCircuit circuit;

    public CrewApiCircuitTests()
    {
        circuit = NewCircuit(maxConcurrency: 8);
    }

    [Fact]
    public async Task It_trips_once_it_holds_enough_users_and_enough_of_them_failed_their_latest_two_attempts()
    {
        // Four users fail once each: a failed attempt is as often the user's bad luck as the API's.
        foreach (var user in new[] { "a", "b", "c", "d" })
        {
            Assert.True(await RecordAsync(user, Http503));
        }

        Assert.Equal(CrewApiCircuitState.Closed, circuit.State);

        // Their second failures: at two of four failing users (50 %) it trips, and the tripping attempt, which reached
        // the API, still counts against its user.
        Assert.True(await RecordAsync("a", Http503));
        Assert.Equal(CrewApiCircuitState.Closed, circuit.State);
        Assert.True(await RecordAsync("b", Http503));
        Assert.Equal(CrewApiCircuitState.Open, circuit.State);
    }

    [Fact]
    public async Task Users_who_fail_for_good_while_others_are_answered_never_trip_it()
    {
        // One user failing again and again is one user, not an outage.
        for (var attempt = 0; attempt < 20; attempt++)
        {
            Assert.True(await RecordAsync("always-500", Http503));
        }

        // Nor are users who each fail once and then get their answer, however many at once.
        foreach (var user in new[] { "b", "c", "d", "e", "f" })
        {
            await RecordAsync(user, Http503);
        }

        foreach (var user in new[] { "b", "c", "d", "e", "f" })
        {
            await RecordAsync(user, Answer);
        }

        Assert.Equal(CrewApiCircuitState.Closed, circuit.State);
    }

    [Fact]
    public async Task A_user_whose_call_gave_up_no_longer_speaks_against_the_API()
    {
        foreach (var user in new[] { "w", "x", "y", "z" })
        {
            await RecordAsync(user, Answer);
        }

        await FailTwiceAsync("a");
        circuit.Forget("a");
        await FailTwiceAsync("b");
        circuit.Forget("b");
        await FailTwiceAsync("c");

        // Without forgetting, a and b would already be two failing users of the latest four.
        Assert.Equal(CrewApiCircuitState.Closed, circuit.State);
    }

    [Fact]
    public async Task A_connection_that_cannot_be_made_counts_as_a_failing_user_at_once_and_not_against_the_user_that_trips_it()
    {
        await RecordAsync("a", Answer);
        await RecordAsync("b", Answer);
        Assert.True(await RecordAsync("c", Refused));
        Assert.Equal(CrewApiCircuitState.Closed, circuit.State);

        Assert.False(await RecordAsync("d", Refused));
        Assert.Equal(CrewApiCircuitState.Open, circuit.State);
    }

    [Fact]
    public async Task With_fewer_calls_in_flight_than_the_threshold_it_judges_as_many_users_as_can_be_in_flight()
    {
        var narrow = NewCircuit(maxConcurrency: 2);

        await RecordAsync(narrow, "a", Http503);
        await RecordAsync(narrow, "b", Http503);
        await RecordAsync(narrow, "a", Http503);

        Assert.Equal(CrewApiCircuitState.Open, narrow.State);
    }

    [Fact]
    public async Task With_one_call_at_a_time_one_user_alone_still_cannot_trip_it()
    {
        var single = NewCircuit(maxConcurrency: 1);

        for (var attempt = 0; attempt < 4; attempt++)
        {
            Assert.True(await RecordAsync(single, "always-500", Http503));
        }

        Assert.Equal(CrewApiCircuitState.Closed, single.State);
        await RecordAsync(single, "next", Http503);
        await RecordAsync(single, "next", Http503);
        Assert.Equal(CrewApiCircuitState.Open, single.State);
    }

    [Fact]
    public async Task Failures_older_than_the_tracking_window_are_forgotten()
    {
        await FailTwiceAsync("a");
        await FailTwiceAsync("b");
        await FailTwiceAsync("c");
        clock.Advance(TimeSpan.FromSeconds(61));

        await FailTwiceAsync("d");
        Assert.Equal(CrewApiCircuitState.Closed, circuit.State);
    }

    [Fact]
    public async Task While_open_callers_wait_in_line_and_after_the_restart_time_the_longest_waiter_probes_and_closes_it()
    {
        await TripAsync();

        var first = circuit.EnterAsync("first", CancellationToken.None);
        var second = circuit.EnterAsync("second", CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.False(first.IsCompleted || second.IsCompleted, "an attempt went out before the restart time");

        clock.Advance(TimeSpan.FromSeconds(1));
        using var probe = await first.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(probe.IsProbe);
        Assert.Equal(CrewApiCircuitState.HalfOpen, circuit.State);
        Assert.False(second.IsCompleted, "a second attempt went out beside the probe");

        Assert.False(probe.Record(Answer));
        using var next = await second.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(next.IsProbe);
        Assert.Equal(CrewApiCircuitState.Closed, circuit.State);
    }

    [Fact]
    public async Task A_probe_the_API_answered_with_an_error_counts_against_its_user_and_the_next_probe_is_another_user()
    {
        await TripAsync();
        var rejected = circuit.EnterAsync("rejected", CancellationToken.None);
        var other = circuit.EnterAsync("other", CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(10));

        using (var probe = await rejected.WaitAsync(TimeSpan.FromSeconds(5)))
        {
            Assert.True(probe.Record(Http503));
        }

        Assert.Equal(CrewApiCircuitState.Open, circuit.State);

        // The rejected user is back in line before the next probe is due, and first in it: the other user probes.
        var again = circuit.EnterAsync("rejected", CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(10));
        using var secondProbe = await other.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(secondProbe.IsProbe);
        Assert.False(again.IsCompleted);

        secondProbe.Record(Http503);
        clock.Advance(TimeSpan.FromSeconds(10));
        using (var third = await again.WaitAsync(TimeSpan.FromSeconds(5)))
        {
            Assert.True(third.IsProbe);
            third.Record(Http503);
        }

        // A user alone in line may probe again.
        var alone = circuit.EnterAsync("rejected", CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(10));
        using var aloneProbe = await alone.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(aloneProbe.IsProbe);
    }

    [Fact]
    public async Task A_probe_that_could_not_connect_reopens_the_circuit_without_counting_against_its_user()
    {
        await TripAsync();
        clock.Advance(TimeSpan.FromSeconds(10));
        using var probe = await circuit.EnterAsync("p", CancellationToken.None);

        Assert.False(probe.Record(Refused));
        Assert.Equal(CrewApiCircuitState.Open, circuit.State);
        Assert.False(circuit.EnterAsync("q", CancellationToken.None).IsCompleted);
    }

    [Fact]
    public async Task A_probe_the_API_answered_for_the_user_to_blame_closes_it()
    {
        await TripAsync();
        clock.Advance(TimeSpan.FromSeconds(10));
        using var probe = await circuit.EnterAsync("p", CancellationToken.None);

        probe.Record(Rejected);
        Assert.Equal(CrewApiCircuitState.Closed, circuit.State);
    }

    [Fact]
    public async Task An_attempt_in_flight_when_the_circuit_tripped_counts_if_it_reached_the_API_and_not_if_it_could_not_connect()
    {
        var reached = await circuit.EnterAsync("reached", CancellationToken.None);
        var notConnected = await circuit.EnterAsync("not-connected", CancellationToken.None);
        await TripAsync();

        Assert.True(reached.Record(Http503));
        Assert.False(notConnected.Record(Refused));
    }

    [Fact]
    public async Task A_probe_abandoned_by_a_stopping_consumer_lets_the_next_waiter_probe_at_once()
    {
        await TripAsync();
        clock.Advance(TimeSpan.FromSeconds(10));
        var abandoned = await circuit.EnterAsync("abandoned", CancellationToken.None);
        var waiter = circuit.EnterAsync("waiter", CancellationToken.None);

        abandoned.Dispose();

        using var next = await waiter.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(next.IsProbe);
    }

    [Fact]
    public async Task A_waiter_that_gives_up_leaves_the_line()
    {
        await TripAsync();
        using var cancel = new CancellationTokenSource();
        var leaving = circuit.EnterAsync("leaving", cancel.Token);
        var staying = circuit.EnterAsync("staying", CancellationToken.None);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving);
        clock.Advance(TimeSpan.FromSeconds(10));

        using var probe = await staying.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(probe.IsProbe);
    }

    [Fact]
    public async Task Its_gauge_reads_1_while_open_and_probing_and_0_once_closed()
    {
        // CrewCaller's own registrations on this test's clock and circuit settings; the default endpoint's circuit.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CREW_API_URL"] = "http://crew.test/run-crew",
            ["CREW_CIRCUIT_ACTIVATION_THRESHOLD"] = "4",
            ["CREW_CIRCUIT_TRIP_PERCENT"] = "50",
            ["CREW_CIRCUIT_TRACKING_SECONDS"] = "60",
            ["CREW_CIRCUIT_RESTART_SECONDS"] = "10",
        }).Build();
        using var services = new ServiceCollection().AddLogging().AddSingleton<TimeProvider>(clock).AddCrewCaller(configuration).BuildServiceProvider();
        services.GetRequiredService<CrewCallerMetrics>();
        var circuit = services.GetRequiredService<CrewEndpoints>().For(null).Circuit;
        using var metrics = new MetricRecorder(services);
        Assert.Equal(0, metrics.Observe("crew_circuit_open", ("endpoint", "default")));

        await TripAsync(circuit);
        Assert.Equal(1, metrics.Observe("crew_circuit_open", ("endpoint", "default")));

        clock.Advance(TimeSpan.FromSeconds(10));
        using var probe = await circuit.EnterAsync("p", CancellationToken.None);
        Assert.Equal(1, metrics.Observe("crew_circuit_open", ("endpoint", "default")));
        probe.Record(Answer);
        Assert.Equal(0, metrics.Observe("crew_circuit_open", ("endpoint", "default")));
    }

    [Fact]
    public async Task It_announces_opening_and_closing_but_not_a_failed_probe()
    {
        var changes = new List<(string Endpoint, bool Available)>();
        circuit.AvailabilityChanged += (endpoint, available) => changes.Add((endpoint, available));

        await TripAsync();
        clock.Advance(TimeSpan.FromSeconds(10));
        (await circuit.EnterAsync("p", CancellationToken.None)).Record(Http503);
        clock.Advance(TimeSpan.FromSeconds(10));
        (await circuit.EnterAsync("q", CancellationToken.None)).Record(Answer);

        Assert.Equal([("default", false), ("default", true)], changes);
    }

    [Fact]
    public async Task Its_snapshot_says_since_when_it_is_open_until_when_and_the_latest_failure()
    {
        Assert.Equal(new CrewApiCircuitSnapshot(CrewApiCircuitState.Closed, null, null, null, null), circuit.Snapshot());

        var openedAt = clock.GetUtcNow();
        var inFlight = await circuit.EnterAsync("late", CancellationToken.None);
        await TripAsync();
        inFlight.Record(CrewAttemptResult.Transient(null, "timed out after 600 s"));
        Assert.Equal(
            new CrewApiCircuitSnapshot(CrewApiCircuitState.Open, openedAt, openedAt.AddSeconds(10), "timed out after 600 s", openedAt),
            circuit.Snapshot());

        clock.Advance(TimeSpan.FromSeconds(10));
        using (var probe = await circuit.EnterAsync("p", CancellationToken.None))
        {
            Assert.Equal(CrewApiCircuitState.HalfOpen, circuit.Snapshot().State);
            Assert.Null(circuit.Snapshot().OpenUntil);
            probe.Record(Answer);
        }

        // Closed again; the latest failure is still told, with its time.
        Assert.Equal(new CrewApiCircuitSnapshot(CrewApiCircuitState.Closed, null, null, "timed out after 600 s", openedAt), circuit.Snapshot());
    }

    private CrewApiCircuit NewCircuit(int maxConcurrency)
    {
        var settings = new CrewCallerOptions
        {
            CircuitActivationThreshold = 4,
            CircuitTripPercent = 50,
            CircuitTrackingSeconds = 60,
            CircuitRestartSeconds = 10,
        };
        return new CrewApiCircuit(Microsoft.Extensions.Options.Options.Create(settings), clock, NullLogger<CrewApiCircuit>.Instance, "default", maxConcurrency);
    }

    private Task<bool> RecordAsync(string user, CrewAttemptResult result) => RecordAsync(circuit, user, result);

    private static async Task<bool> RecordAsync(CrewApiCircuit on, string user, CrewAttemptResult result)
    {
        using var permit = await on.EnterAsync(user, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        return permit.Record(result);
    }

    private async Task FailTwiceAsync(string user)
    {
        await RecordAsync(user, Http503);
        await RecordAsync(user, Http503);
    }

    /// <summary>Four users fail once, then two of them again: two failing users of four.</summary>
    private Task TripAsync() => TripAsync(circuit);

    private static async Task TripAsync(CrewApiCircuit on)
    {
        foreach (var user in new[] { "t1", "t2", "t3", "t4", "t1", "t2" })
        {
            await RecordAsync(on, user, Http503);
        }

        Assert.Equal(CrewApiCircuitState.Open, on.State);
    }
}
