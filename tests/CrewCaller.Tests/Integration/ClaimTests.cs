using System.Diagnostics;
using System.Net;
using CrewPlatform.CrewCaller.Tests.Support;
using CrewPlatform.Testing;

namespace CrewPlatform.CrewCaller.Tests.Integration;

/// <summary>Settings for <see cref="ClaimTests"/>: a 3 s lease, one call at a time, attempts long enough for a slow crew.</summary>
public sealed class ShortLeaseSettings : ICrewSettingsProfile
{
    public const int LeaseSeconds = 3;

    public static IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>
    {
        ["CREW_CLAIM_LEASE_SECONDS"] = LeaseSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["CREW_MAX_CONCURRENCY"] = "1",
        ["CREW_API_TIMEOUT_SECONDS"] = "10",
        ["CREW_MAX_ATTEMPTS"] = "3",
        ["CREW_RETRY_BASE_DELAY_MS"] = "50",
        ["CREW_CIRCUIT_ACTIVATION_THRESHOLD"] = "100000",
    };
}

/// <summary>Claims over real RabbitMQ and PostgreSQL: dead holders are taken over quickly, live ones keep theirs without costing a slot.</summary>
public sealed class ClaimTests(CrewCallerApp<ShortLeaseSettings> app) : IClassFixture<CrewCallerApp<ShortLeaseSettings>>
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(ShortLeaseSettings.LeaseSeconds);

    [Theory]
    [InlineData("-1 minute")]
    [InlineData("2 seconds")]
    public async Task A_claim_left_by_a_killed_instance_is_taken_over_within_the_lease_and_the_user_is_called_once(string leaseLeft)
    {
        app.Fake.State.Reset();
        var command = Messages.RunCrewForUser();
        await app.ClaimAsAnotherInstanceAsync(command, "killed-instance", leaseLeft, startedAgo: "1 minute");
        var started = Stopwatch.GetTimestamp();

        await app.SendAsync(command);
        await app.ReceivedAsync(command);

        var took = Stopwatch.GetElapsedTime(started);
        Assert.True(took < Lease + TimeSpan.FromSeconds(2), $"took over after {took.TotalSeconds:0.0} s");
        Assert.Single(app.CallsFor(command));
        var row = await app.LedgerRowAsync(command.RunId, command.UserUid);
        Assert.Equal(("succeeded", 2), (row!.Status, row.Attempts));
        Assert.NotEqual("killed-instance", row.ClaimedBy);
    }

    [Fact]
    public async Task A_user_held_by_a_live_instance_does_not_keep_another_user_from_the_only_slot()
    {
        app.Fake.State.Reset();
        var held = Messages.RunCrewForUser();
        var other = Messages.RunCrewForUser();
        await app.ClaimAsAnotherInstanceAsync(held, "live-instance", "1 hour");

        await app.SendAsync(held);
        await Testing.Eventually.HoldsAsync(() => app.ConsumedFor(held).Count >= 1, "the held command was handed back once", TimeSpan.FromSeconds(10));
        await app.SendAsync(other);
        await app.ReceivedAsync(other);

        Assert.Empty(app.CallsFor(held));

        // The live holder answers: the handed-back command finds the answer and re-announces it.
        await app.ExecuteAsync(
            """
            UPDATE crew_caller.crew_calls SET status = 'succeeded', response_json = '{"from":"live-instance"}', finished_at = now(), duration_ms = 5
            WHERE run_id = $1 AND user_uid = $2
            """,
            held.RunId, held.UserUid);
        var received = await app.ReceivedAsync(held);
        Assert.Equal("""{"from":"live-instance"}""", received.ResponseJson);
        Assert.Empty(app.CallsFor(held));
        Assert.All(app.ConsumedFor(held), Assert.Null);
    }

    [Fact]
    public async Task The_heartbeat_keeps_a_call_longer_than_the_lease_from_being_taken_over()
    {
        app.Fake.State.Reset();
        app.Fake.State.SetBehaviour(app.Fake.State.Behaviour with { LatencyMs = 5_000 });
        var command = Messages.RunCrewForUser();

        await app.SendAsync(command);
        await Testing.Eventually.HoldsAsync(
            async () => await app.ScalarAsync<bool>(
                "SELECT started_at < now() - $3 FROM crew_caller.crew_calls WHERE run_id = $1 AND user_uid = $2", command.RunId, command.UserUid, Lease + TimeSpan.FromSeconds(0.5)),
            "the call has lasted longer than one lease",
            TimeSpan.FromSeconds(10));
        Assert.Equal(1, app.Fake.State.Stats().InFlight);
        Assert.True(
            await app.ScalarAsync<bool>("SELECT lease_expires_at > now() FROM crew_caller.crew_calls WHERE run_id = $1 AND user_uid = $2", command.RunId, command.UserUid),
            "the lease ran out while the call was still in flight");

        // A second instance on the same ledger, handed the same command now, must leave the call to its live holder.
        var otherCrew = new ScriptedCrewApi();
        await using var otherInstance = await HarnessScope.StartAsync(app, otherCrew);
        await otherInstance.SendAsync(command);
        var fromOther = await otherInstance.ReceivedAsync(command);
        var answered = await app.ReceivedAsync(command);

        Assert.Equal(0, otherCrew.Calls);
        Assert.Single(app.CallsFor(command));
        Assert.Equal(answered.ResponseJson, fromOther.ResponseJson);
    }

    [Fact]
    public async Task Every_attempt_reaches_the_crew_API_with_the_run_and_user_as_Idempotency_Key()
    {
        app.Fake.State.Reset();
        app.Fake.State.SetBehaviour(app.Fake.State.Behaviour with { RetryAfterSeconds = 0 });
        app.Fake.State.AddScript(["503", "500"]);
        var command = Messages.RunCrewForUser();

        await app.SendAsync(command);
        await app.ReceivedAsync(command);

        var calls = app.CallsFor(command);
        Assert.Equal(["503", "500", "ok"], calls.Select(c => c.Plan));
        Assert.All(calls, call => Assert.Equal($"{command.RunId}:{command.UserUid}", call.IdempotencyKey));
    }

    [Fact]
    public async Task A_failed_user_is_called_again_only_by_an_operators_replay()
    {
        app.Fake.State.Reset();
        app.Fake.State.AddScript(["400"]);
        var command = Messages.RunCrewForUser();

        await app.SendAsync(command);
        var failed = await app.FailedAsync(command);
        await app.SendAsync(command);
        await Testing.Eventually.HoldsAsync(() => app.Failed.Count(f => f.UserUid == command.UserUid) == 2, "the failure was announced again", TimeSpan.FromSeconds(10));
        Assert.Single(app.CallsFor(command));

        await app.SendAsync(command with { ReplayFailed = true });
        var received = await app.ReceivedAsync(command);

        Assert.Equal((int?)(int)HttpStatusCode.BadRequest, failed.StatusCode);
        Assert.Equal(["400", "ok"], app.CallsFor(command).Select(c => c.Plan));
        Assert.Equal(1, received.Attempts);
    }
}
