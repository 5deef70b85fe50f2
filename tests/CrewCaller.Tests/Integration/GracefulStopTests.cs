using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.Tests.Support;
using CrewPlatform.Testing;

namespace CrewPlatform.CrewCaller.Tests.Integration;

/// <summary>Settings for <see cref="GracefulStopTests"/>: a 30 s drain, and waits between attempts as long as the API asks.</summary>
public sealed class DrainingSettings : ICrewSettingsProfile
{
    public static readonly TimeSpan Drain = TimeSpan.FromSeconds(30);

    public static IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>
    {
        ["CREW_SHUTDOWN_DRAIN_SECONDS"] = Drain.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["CREW_MAX_CONCURRENCY"] = "2",
        ["CREW_API_TIMEOUT_SECONDS"] = "20",
        ["CREW_RETRY_BASE_DELAY_MS"] = "50",
        ["CREW_RETRY_MAX_DELAY_SECONDS"] = "60",
    };
}

/// <summary>Stopping the service (SIGTERM): paid calls in flight finish and are recorded; waiting commands go back to the queue at once.</summary>
public sealed class GracefulStopTests(CrewCallerApp<DrainingSettings> app) : IClassFixture<CrewCallerApp<DrainingSettings>>
{
    [Fact]
    public async Task A_stop_lets_the_call_in_flight_finish_and_record_its_answer_and_hands_a_waiting_command_back_at_once()
    {
        // The waiting user: its first attempt is answered 503 with Retry-After 30 s, so it sits in its backoff.
        app.Fake.State.Reset();
        app.Fake.State.SetBehaviour(app.Fake.State.Behaviour with { RetryAfterSeconds = 30, LatencyMs = 1_500 });
        app.Fake.State.AddScript(["503"]);
        var waiting = Messages.RunCrewForUser();
        await app.SendAsync(waiting);
        await Testing.Eventually.HoldsAsync(
            async () => (await app.LedgerRowAsync(waiting.RunId, waiting.UserUid))?.LastStatusCode == 503, "the first user waits after a 503", TimeSpan.FromSeconds(10));

        // The user in flight: its call takes 1.5 s.
        var inFlight = Messages.RunCrewForUser();
        await app.SendAsync(inFlight);
        await Testing.Eventually.HoldsAsync(() => app.Fake.State.Stats().InFlight == 1, "the second user's call is in flight", TimeSpan.FromSeconds(10));

        var stopTook = await app.StopServiceAsync();

        Assert.True(stopTook < DrainingSettings.Drain / 2, $"the stop took {stopTook.TotalSeconds:0.0} s");
        var answered = await app.LedgerRowAsync(inFlight.RunId, inFlight.UserUid);
        Assert.Equal(("succeeded", 1), (answered!.Status, answered.Attempts));
        Assert.Equal(0, app.Fake.State.Stats().Abandoned);
        Assert.Contains(await app.PeekQueueAsync("crew-caller-tests-observer"), body => body.Contains(inFlight.UserUid, StringComparison.Ordinal));

        // The waiting user's command is back in the queue, and its claim released for whoever takes it next.
        Assert.Contains(await app.PeekQueueAsync(QueueNames.RunCrewForUser), body => body.Contains(waiting.UserUid, StringComparison.Ordinal));
        Assert.True(
            await app.ScalarAsync<bool>("SELECT status = 'calling' AND lease_expires_at < now() FROM crew_caller.crew_calls WHERE run_id = $1 AND user_uid = $2", waiting.RunId, waiting.UserUid),
            "the waiting user's claim was not released");
    }
}
