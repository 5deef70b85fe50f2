using CrewPlatform.CrewCaller.Tests.Support;
using CrewPlatform.FakeCrewApi;
using CrewPlatform.Testing;
using Xunit.Abstractions;

namespace CrewPlatform.CrewCaller.Tests.Integration;

/// <summary>Settings for <see cref="CrewCallerOverRealInfrastructureTests"/>: 3 calls at once, 1.5 s attempts, short backoff.</summary>
public sealed class ConcurrencyLimitedSettings : ICrewSettingsProfile
{
    public const int MaxConcurrency = 3;

    public static IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>
    {
        ["CREW_MAX_CONCURRENCY"] = MaxConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["CREW_API_TIMEOUT_SECONDS"] = "1.5",
        ["CREW_MAX_ATTEMPTS"] = "3",
        ["CREW_RETRY_BASE_DELAY_MS"] = "50",
        ["CREW_RETRY_MAX_DELAY_SECONDS"] = "5",

        // These tests fail calls on purpose; the circuit has its own tests.
        ["CREW_CIRCUIT_ACTIVATION_THRESHOLD"] = "100000",
    };
}

/// <summary>
/// One service with <see cref="ConcurrencyLimitedSettings"/> for the test classes below, which run one after another:
/// each test uses users of its own and waits until its calls are over, so none sees another's.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ConcurrencyLimitedCollection : ICollectionFixture<CrewCallerApp<ConcurrencyLimitedSettings>>
{
    public const string Name = "CrewCaller with ConcurrencyLimitedSettings";
}

/// <summary>The service over real RabbitMQ and PostgreSQL, calling the fake crew API over real HTTP.</summary>
[Collection(ConcurrencyLimitedCollection.Name)]
public sealed class CrewCallerOverRealInfrastructureTests(CrewCallerApp<ConcurrencyLimitedSettings> app, ITestOutputHelper output)
{
    [Fact]
    public async Task Transient_errors_are_retried_and_the_answer_is_forwarded_byte_for_byte()
    {
        app.Fake.State.Reset();
        app.Fake.State.AddScript(["500", "502"]);
        var command = Messages.RunCrewForUser(goal: null);

        await app.SendAsync(command);
        var received = await app.ReceivedAsync(command);

        Assert.Equal(3, received.Attempts);
        Assert.Equal(CrewAnswers.For(command.Context, null).ToJsonString(), received.ResponseJson);
        Assert.Equal(["500", "502", "ok"], app.CallsFor(command).Select(c => c.Plan));
        Assert.All(app.CallsFor(command), call => Assert.Null(call.Goal));
        var row = await app.LedgerRowAsync(command.RunId, command.UserUid);
        Assert.Equal(("succeeded", 3, received.ResponseJson), (row!.Status, row.Attempts, row.ResponseJson));
    }

    [Fact]
    public async Task A_429_is_retried_no_earlier_than_its_Retry_After()
    {
        app.Fake.State.Reset();
        app.Fake.State.SetBehaviour(app.Fake.State.Behaviour with { RetryAfterSeconds = 1 });
        app.Fake.State.AddScript(["429"]);
        var command = Messages.RunCrewForUser();

        await app.SendAsync(command);
        var received = await app.ReceivedAsync(command);

        var calls = app.CallsFor(command);
        Assert.Equal(["429", "ok"], calls.Select(c => c.Plan));
        Assert.Equal(2, received.Attempts);
        var waited = calls[1].ReceivedAt - calls[0].ReceivedAt;
        output.WriteLine($"Retry-After 1 s: the second call came {waited.TotalMilliseconds:0} ms after the 429");

        // Backoff alone would have waited about 50 ms here. The 15 ms margin is timer granularity: a 1 s delay measured
        // on the wall clock can read 999.7 ms.
        Assert.True(waited >= TimeSpan.FromMilliseconds(985), $"the second call came {waited.TotalMilliseconds} ms after the 429, before its Retry-After of 1 s");
    }

    [Theory]
    [InlineData("400", 400, "HTTP 400 from crew API")]
    [InlineData("non-json", 200, "non-JSON body")]
    public async Task A_permanent_error_is_not_retried_is_recorded_in_the_ledger_and_leaves_nothing_in_the_error_queue(string step, int statusCode, string reason)
    {
        app.Fake.State.Reset();
        app.Fake.State.AddScript([step]);
        var command = Messages.RunCrewForUser();

        await app.SendAsync(command);
        var failed = await app.FailedAsync(command);

        Assert.Equal((reason, (int?)statusCode, 1), (failed.Reason, failed.StatusCode, failed.Attempts));
        Assert.Single(app.CallsFor(command));
        var row = await app.LedgerRowAsync(command.RunId, command.UserUid);
        Assert.Equal(("failed", 1, reason, (int?)statusCode), (row!.Status, row.Attempts, row.LastError, row.LastStatusCode));

        // Giving up is an outcome: the command is acknowledged, and a replay comes from the Scheduler's retry-failed.
        await Testing.Eventually.HoldsAsync(() => app.ConsumedFor(command).Count == 1, "the consumer has finished with the command", TimeSpan.FromSeconds(10));
        Assert.Null(Assert.Single(app.ConsumedFor(command)));
        Assert.DoesNotContain(await app.PeekErrorQueueAsync(), body => body.Contains(command.UserUid, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_hanging_call_hits_the_attempt_timeout_and_the_next_attempt_answers()
    {
        app.Fake.State.Reset();
        app.Fake.State.AddScript(["hang"]);
        var command = Messages.RunCrewForUser();

        await app.SendAsync(command);
        var received = await app.ReceivedAsync(command);

        Assert.Equal(2, received.Attempts);
        Assert.Equal(["hang", "ok"], app.CallsFor(command).Select(c => c.Plan));
        await Testing.Eventually.HoldsAsync(() => app.Fake.State.Stats().Abandoned == 1, "the fake saw the caller abandon the hanging call", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_call_that_hangs_on_every_attempt_fails_as_timed_out()
    {
        app.Fake.State.Reset();
        app.Fake.State.AddScript(["hang", "hang", "hang"]);
        var command = Messages.RunCrewForUser();

        await app.SendAsync(command);
        var failed = await app.FailedAsync(command);

        Assert.Equal(3, failed.Attempts);
        Assert.Null(failed.StatusCode);
        Assert.Equal("timed out after 1.5 s (gave up after 3 attempts)", failed.Reason);
    }

    [Fact]
    public async Task Calls_in_flight_never_exceed_CREW_MAX_CONCURRENCY()
    {
        app.Fake.State.Reset();
        app.Fake.State.SetBehaviour(app.Fake.State.Behaviour with { LatencyMs = 300, JitterMs = 100 });
        var commands = Enumerable.Range(0, 20).Select(_ => Messages.RunCrewForUser()).ToList();

        await Task.WhenAll(commands.Select(app.SendAsync));
        foreach (var command in commands)
        {
            await app.ReceivedAsync(command);
        }

        var stats = app.Fake.State.Stats();
        output.WriteLine($"20 calls, CREW_MAX_CONCURRENCY={ConcurrencyLimitedSettings.MaxConcurrency}: peak in flight {stats.PeakInFlight}");
        Assert.Equal(20, stats.Received);
        Assert.InRange(stats.PeakInFlight, 2, ConcurrencyLimitedSettings.MaxConcurrency);
    }

    [Fact]
    public async Task The_same_command_delivered_twice_makes_one_crew_call()
    {
        app.Fake.State.Reset();
        app.Fake.State.SetBehaviour(app.Fake.State.Behaviour with { LatencyMs = 500 });
        var command = Messages.RunCrewForUser();

        await app.SendAsync(command);
        await app.SendAsync(command);
        await app.ReceivedAsync(command, count: 2);
        await app.SendAsync(command);
        await app.ReceivedAsync(command, count: 3);

        Assert.Single(app.CallsFor(command));
        Assert.Single(app.ReceivedFor(command).Select(r => r.ResponseJson).Distinct());
    }
}
