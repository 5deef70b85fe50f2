using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CrewPlatform.CrewCaller.Tests.Harness;

/// <summary>The attempt-level circuit on a fake clock: when it trips, what counts against a user, and how it recovers.</summary>
public sealed class CrewApiCircuitTests
{
    private readonly FakeTimeProvider clock = new();

    private readonly CrewApiCircuit circuit;

    public CrewApiCircuitTests()
    {
        var settings = new CrewCallerOptions
        {
            CircuitActivationThreshold = 4,
            CircuitTripPercent = 50,
            CircuitTrackingSeconds = 60,
            CircuitRestartSeconds = 10,
        };
        circuit = new CrewApiCircuit(Microsoft.Extensions.Options.Options.Create(settings), clock, NullLogger<CrewApiCircuit>.Instance);
    }

    [Fact]
    public async Task It_trips_only_once_enough_attempts_were_seen_and_enough_of_them_failed()
    {
        // Below the activation threshold a failed attempt counts against its user as usual.
        Assert.True(await RecordAsync(available: false));
        Assert.False(await RecordAsync(available: true));
        Assert.True(await RecordAsync(available: false));
        Assert.Equal(CrewApiCircuitState.Closed, circuit.State);

        // The fourth attempt reaches the activation threshold with 3 of 4 unavailable: it trips, and does not count against its user.
        Assert.False(await RecordAsync(available: false));
        Assert.Equal(CrewApiCircuitState.Open, circuit.State);
    }

    [Fact]
    public async Task Failures_older_than_the_tracking_window_are_forgotten()
    {
        await RecordAsync(available: false);
        await RecordAsync(available: false);
        await RecordAsync(available: false);
        clock.Advance(TimeSpan.FromSeconds(61));

        Assert.True(await RecordAsync(available: false));
        Assert.Equal(CrewApiCircuitState.Closed, circuit.State);
    }

    [Fact]
    public async Task While_open_attempts_wait_and_after_the_restart_time_one_probe_closes_it()
    {
        await TripAsync();

        var probe = circuit.EnterAsync(CancellationToken.None);
        var waiter = circuit.EnterAsync(CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.False(probe.IsCompleted || waiter.IsCompleted, "an attempt went out before the restart time");

        clock.Advance(TimeSpan.FromSeconds(1));
        var permit = await FirstAsync(probe, waiter);
        Assert.True(permit.IsProbe);
        Assert.Equal(CrewApiCircuitState.HalfOpen, circuit.State);
        Assert.False((probe.IsCompleted ? waiter : probe).IsCompleted, "a second attempt went out beside the probe");

        permit.Record(available: true);
        using var next = await (probe.IsCompleted ? waiter : probe).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(next.IsProbe);
        Assert.Equal(CrewApiCircuitState.Closed, circuit.State);
    }

    [Fact]
    public async Task A_failed_probe_reopens_the_circuit_without_counting_against_its_user()
    {
        await TripAsync();
        clock.Advance(TimeSpan.FromSeconds(10));
        using var probe = await circuit.EnterAsync(CancellationToken.None);

        Assert.False(probe.Record(available: false));
        Assert.Equal(CrewApiCircuitState.Open, circuit.State);
        Assert.False(circuit.EnterAsync(CancellationToken.None).IsCompleted);
    }

    [Fact]
    public async Task An_attempt_in_flight_when_the_circuit_tripped_does_not_count_against_its_user()
    {
        var inFlight = await circuit.EnterAsync(CancellationToken.None);
        await TripAsync();

        Assert.False(inFlight.Record(available: false));
    }

    [Fact]
    public async Task A_probe_abandoned_by_a_stopping_consumer_lets_the_next_waiter_probe_at_once()
    {
        await TripAsync();
        clock.Advance(TimeSpan.FromSeconds(10));
        var abandoned = await circuit.EnterAsync(CancellationToken.None);
        var waiter = circuit.EnterAsync(CancellationToken.None);

        abandoned.Dispose();

        using var next = await waiter.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(next.IsProbe);
    }

    [Fact]
    public async Task Its_gauge_reads_1_while_open_and_probing_and_0_once_closed()
    {
        // CrewCaller's own registrations, with this test's circuit as the default endpoint's.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["CREW_API_URL"] = "http://crew.test/run-crew" }).Build();
        using var services = new ServiceCollection().AddLogging().AddCrewCaller(configuration).AddSingleton(circuit).BuildServiceProvider();
        services.GetRequiredService<CrewCallerMetrics>();
        using var metrics = new MetricRecorder(services);
        Assert.Equal(0, metrics.Observe("crew_circuit_open", ("endpoint", "default")));

        await TripAsync();
        Assert.Equal(1, metrics.Observe("crew_circuit_open", ("endpoint", "default")));

        clock.Advance(TimeSpan.FromSeconds(10));
        using var probe = await circuit.EnterAsync(CancellationToken.None);
        Assert.Equal(1, metrics.Observe("crew_circuit_open", ("endpoint", "default")));
        probe.Record(available: true);
        Assert.Equal(0, metrics.Observe("crew_circuit_open", ("endpoint", "default")));
    }

    [Fact]
    public async Task It_announces_opening_and_closing_but_not_a_failed_probe()
    {
        var changes = new List<(string Endpoint, bool Available)>();
        circuit.AvailabilityChanged += (endpoint, available) => changes.Add((endpoint, available));

        await TripAsync();
        clock.Advance(TimeSpan.FromSeconds(10));
        (await circuit.EnterAsync(CancellationToken.None)).Record(available: false);
        clock.Advance(TimeSpan.FromSeconds(10));
        (await circuit.EnterAsync(CancellationToken.None)).Record(available: true);

        Assert.Equal([("default", false), ("default", true)], changes);
    }

    [Fact]
    public async Task Its_snapshot_says_since_when_it_is_open_until_when_and_the_latest_failure()
    {
        Assert.Equal(new CrewApiCircuitSnapshot(CrewApiCircuitState.Closed, null, null, null, null), circuit.Snapshot());

        var openedAt = clock.GetUtcNow();
        await RecordAsync(available: false, "HTTP 503 from crew API");
        await RecordAsync(available: false, "HTTP 503 from crew API");
        await RecordAsync(available: false, "HTTP 503 from crew API");
        await RecordAsync(available: false, "timed out after 600 s");
        Assert.Equal(
            new CrewApiCircuitSnapshot(CrewApiCircuitState.Open, openedAt, openedAt.AddSeconds(10), "timed out after 600 s", openedAt),
            circuit.Snapshot());

        clock.Advance(TimeSpan.FromSeconds(10));
        using (var probe = await circuit.EnterAsync(CancellationToken.None))
        {
            Assert.Equal(CrewApiCircuitState.HalfOpen, circuit.Snapshot().State);
            Assert.Null(circuit.Snapshot().OpenUntil);
            probe.Record(available: true);
        }

        // Closed again; the latest failure is still told, with its time.
        Assert.Equal(new CrewApiCircuitSnapshot(CrewApiCircuitState.Closed, null, null, "timed out after 600 s", openedAt), circuit.Snapshot());
    }

    private async Task<bool> RecordAsync(bool available, string? reason = null)
    {
        using var permit = await circuit.EnterAsync(CancellationToken.None);
        return permit.Record(available, reason);
    }

    private async Task TripAsync()
    {
        for (var i = 0; i < 4; i++)
        {
            await RecordAsync(available: false);
        }

        Assert.Equal(CrewApiCircuitState.Open, circuit.State);
    }

    private static async Task<CrewApiCircuit.CircuitPermit> FirstAsync(params Task<CrewApiCircuit.CircuitPermit>[] entering) =>
        await await Task.WhenAny(entering).WaitAsync(TimeSpan.FromSeconds(5));
}
