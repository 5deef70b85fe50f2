using System.Diagnostics;
using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.CrewCaller.Persistence;
using CrewPlatform.CrewCaller.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace CrewPlatform.CrewCaller.Tests.Integration;

/// <summary>
/// Budgets and the shared pace in the real ledger, each instance a CrewCaller container of its own (its own instance id
/// and connection pool) over one database, as two replicas are.
/// </summary>
public sealed class SpendAndPaceTests(CrewCallerDatabase database) : IClassFixture<CrewCallerDatabase>
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Fifty_claims_racing_from_two_instances_on_a_budget_of_ten_calls_admit_exactly_ten()
    {
        await using var first = Instance();
        await using var second = Instance();
        var runId = Guid.NewGuid();
        var spend = new CallSpend(runId, new RunBudget { MaxCalls = 10 }, Expected: 0m);

        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(() =>
            ((i % 2 == 0) ? first : second).Ledger.TryClaimAsync(runId, $"user-{i}", "default", Lease, false, spend, CancellationToken.None))));

        Assert.Equal(10, results.Count(r => r is ClaimResult.Claimed));
        Assert.All(results.Where(r => r is not ClaimResult.Claimed), r => Assert.Equal(CrewCallSkipped.BudgetReason, Assert.IsType<ClaimResult.Skipped>(r).Reason));
        Assert.Equal((10, 0m, 0m), await ScopeAsync(spend.RunScope));
        Assert.Equal(40L, await database.ScalarAsync<long>("SELECT count(*) FROM crew_caller.crew_calls WHERE run_id = $1 AND status = 'skipped' AND attempts = 0", runId));
    }

    [Fact]
    public async Task Attempts_reserve_their_expected_cost_and_outcomes_settle_it_at_the_real_cost()
    {
        await using var instance = Instance();
        var ledger = instance.Ledger;
        var runId = Guid.NewGuid();
        var spend = new CallSpend(runId, new RunBudget { MaxSpend = 1.0m, MaxSpendPerDay = 5m, DayScope = $"schedule:7:{runId}" }, Expected: 0.4m);

        Assert.IsType<ClaimResult.Claimed>(await Claim(ledger, runId, "a", spend));
        Assert.IsType<ClaimResult.Claimed>(await Claim(ledger, runId, "b", spend));
        Assert.Equal((2, 0.8m, 0m), await ScopeAsync(spend.RunScope));

        // 0.8 reserved + 0.4 expected would pass 1.0: refused, never called.
        Assert.Equal(CrewCallSkipped.BudgetReason, Assert.IsType<ClaimResult.Skipped>(await Claim(ledger, runId, "c", spend)).Reason);

        Assert.NotNull(await ledger.RecordSuccessAsync(runId, "a", "{}", 200, 5, cost: 0.5m, spend, CancellationToken.None));
        Assert.Equal((2, 0.4m, 0.5m), await ScopeAsync(spend.RunScope));
        Assert.Equal((2, 0.4m, 0.5m), await ScopeAsync(spend.Budget.DayScope!));
        Assert.Equal(0.5m, await database.ScalarAsync<decimal>("SELECT cost FROM crew_caller.crew_calls WHERE run_id = $1 AND user_uid = 'a'", runId));

        // Handed back before its attempt was made: the reservation goes back, and the room it held is free again.
        await ledger.ReleaseAsync(runId, "b", attemptNotMade: true, spend, CancellationToken.None);
        Assert.Equal((1, 0m, 0.5m), await ScopeAsync(spend.RunScope));
        Assert.IsType<ClaimResult.Claimed>(await Claim(ledger, runId, "d", spend));

        // A retry that would pass the limit is refused; the failure settles the attempts made at their price.
        Assert.Equal(AttemptAdmission.BudgetRefused, await ledger.BeginAttemptAsync(runId, "d", spend, CancellationToken.None));
        Assert.NotNull(await ledger.RecordFailureAsync(runId, "d", "budget exhausted after 1 attempts", 500, 5, cost: 0.3m, spend, CancellationToken.None));
        Assert.Equal((2, 0m, 0.8m), await ScopeAsync(spend.RunScope));
    }

    [Fact]
    public async Task A_claim_taken_over_from_a_dead_instance_settles_its_reservation_as_spent()
    {
        await using var killed = Instance();
        await using var survivor = Instance();
        var runId = Guid.NewGuid();
        var spend = new CallSpend(runId, new RunBudget { MaxCalls = 5, MaxSpend = 10m }, Expected: 0.3m);
        Assert.IsType<ClaimResult.Claimed>(await Claim(killed.Ledger, runId, "u", spend));
        await database.ExecuteAsync("UPDATE crew_caller.crew_calls SET lease_expires_at = now() - interval '1 minute' WHERE run_id = $1", runId);

        var taken = await Claim(survivor.Ledger, runId, "u", spend);

        Assert.Equal(2, Assert.IsType<ClaimResult.Claimed>(taken).Attempts);
        Assert.Equal((2, 0.3m, 0.3m), await ScopeAsync(spend.RunScope));
    }

    [Fact]
    public async Task A_cancelled_run_is_claimed_by_no_one_and_its_users_are_skipped_with_or_without_a_budget()
    {
        await using var instance = Instance();
        var runId = Guid.NewGuid();
        await instance.Ledger.CancelRunAsync(runId, DateTimeOffset.UtcNow, CancellationToken.None);
        await instance.Ledger.CancelRunAsync(runId, DateTimeOffset.UtcNow, CancellationToken.None);

        var plain = await instance.Ledger.TryClaimAsync(runId, "plain", "default", Lease, false, null, CancellationToken.None);
        var budgeted = await Claim(instance.Ledger, runId, "budgeted", new CallSpend(runId, new RunBudget { MaxCalls = 5 }, 0m));

        Assert.Equal(CrewCallSkipped.CancelledReason, Assert.IsType<ClaimResult.Skipped>(plain).Reason);
        Assert.Equal(CrewCallSkipped.CancelledReason, Assert.IsType<ClaimResult.Skipped>(budgeted).Reason);
        Assert.Equal("skipped", (await database.LedgerRowAsync(runId, "plain"))!.Status);
    }

    [Fact]
    public async Task Skipping_a_cancelled_runs_users_disturbs_no_other_statement_on_the_same_connections()
    {
        // Few connections, so the skips and the other run's claims and recordings keep taking each other's connections.
        await using var instance = Instance(connectionString: $"{database.PostgresConnectionString};Maximum Pool Size=3");
        var cancelled = Guid.NewGuid();
        var running = Guid.NewGuid();
        await instance.Ledger.CancelRunAsync(cancelled, DateTimeOffset.UtcNow, CancellationToken.None);

        var skips = Enumerable.Range(0, 150).Select(i => Task.Run(() =>
            instance.Ledger.TryClaimAsync(cancelled, $"user-{i}", "default", Lease, false, null, CancellationToken.None)));
        var calls = Enumerable.Range(0, 150).Select(i => Task.Run(async () =>
        {
            Assert.IsType<ClaimResult.Claimed>(await instance.Ledger.TryClaimAsync(running, $"user-{i}", "default", Lease, false, null, CancellationToken.None));
            return await instance.Ledger.RecordSuccessAsync(running, $"user-{i}", "{}", 200, 5, cost: null, spend: null, CancellationToken.None);
        }));

        Assert.All(await Task.WhenAll(skips), skipped => Assert.Equal(CrewCallSkipped.CancelledReason, Assert.IsType<ClaimResult.Skipped>(skipped).Reason));
        Assert.All(await Task.WhenAll(calls), recorded => Assert.NotNull(recorded));
    }

    [Fact]
    public async Task A_recording_retried_after_its_commit_announces_the_outcome_it_recorded()
    {
        await using var instance = Instance();
        var runId = Guid.NewGuid();
        Assert.IsType<ClaimResult.Claimed>(await instance.Ledger.TryClaimAsync(runId, "user", "default", Lease, false, null, CancellationToken.None));

        var first = await instance.Ledger.RecordSuccessAsync(runId, "user", "{}", 200, 5, cost: null, spend: null, CancellationToken.None);
        var retried = await instance.Ledger.RecordSuccessAsync(runId, "user", "{}", 200, 5, cost: null, spend: null, CancellationToken.None);
        await using var other = Instance();
        var byAnother = await other.Ledger.RecordSuccessAsync(runId, "user", "{}", 200, 5, cost: null, spend: null, CancellationToken.None);

        Assert.NotNull(first);
        Assert.Equal(first, retried);
        Assert.Null(byAnother);
    }

    [Fact]
    public async Task An_operators_replay_of_a_failed_call_is_claimed_even_after_its_run_was_cancelled()
    {
        await using var instance = Instance();
        var runId = Guid.NewGuid();
        Assert.IsType<ClaimResult.Claimed>(await instance.Ledger.TryClaimAsync(runId, "failed", "default", Lease, false, null, CancellationToken.None));
        Assert.NotNull(await instance.Ledger.RecordFailureAsync(runId, "failed", "HTTP 500 from crew API", 500, 5, cost: null, spend: null, CancellationToken.None));
        await instance.Ledger.CancelRunAsync(runId, DateTimeOffset.UtcNow, CancellationToken.None);

        var redelivered = await instance.Ledger.TryClaimAsync(runId, "failed", "default", Lease, false, null, CancellationToken.None);
        var replayed = await instance.Ledger.TryClaimAsync(runId, "failed", "default", Lease, true, null, CancellationToken.None);

        Assert.IsType<ClaimResult.AlreadyFailed>(redelivered);
        Assert.Equal(2, Assert.IsType<ClaimResult.Claimed>(replayed).Attempts);
    }

    [Fact]
    public async Task Two_instances_taking_starts_of_one_paced_endpoint_never_start_more_than_one_per_spacing()
    {
        // 300 a minute: one start per 200 ms over both instances.
        var endpoint = $"paced-{Guid.NewGuid():N}"[..20];
        var settings = new Dictionary<string, string?> { [$"CREW_ENDPOINTS:{endpoint}:Url"] = "http://127.0.0.1:9/run-crew", [$"CREW_ENDPOINTS:{endpoint}:CallsPerMinute"] = "300" };
        await using var first = Instance(settings);
        await using var second = Instance(settings);
        var window = TimeSpan.FromSeconds(3);
        var started = Stopwatch.StartNew();

        var counts = await Task.WhenAll(new[] { first, second }.SelectMany(i => Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            var starts = 0;
            while (started.Elapsed < window)
            {
                var wait = await i.Pace.TryStartAsync(i.Endpoint(endpoint), CancellationToken.None);
                starts += wait == TimeSpan.Zero ? 1 : 0;
                await Task.Delay(wait == TimeSpan.Zero ? TimeSpan.Zero : CrewPace.Capped(wait));
            }

            return starts;
        }))));

        // At most one start per 200 ms (plus the first), and the pace is not starved either.
        Assert.InRange(counts.Sum(), 10, (int)(window / TimeSpan.FromMilliseconds(200)) + 1);
    }

    [Fact]
    public async Task A_429_on_one_instance_pauses_the_endpoint_for_every_instance_limited_or_not()
    {
        var endpoint = $"paused-{Guid.NewGuid():N}"[..20];
        var settings = new Dictionary<string, string?> { [$"CREW_ENDPOINTS:{endpoint}:Url"] = "http://127.0.0.1:9/run-crew", [$"CREW_ENDPOINTS:{endpoint}:CallsPerMinute"] = "600000" };
        await using var first = Instance(settings);
        await using var second = Instance(new Dictionary<string, string?> { [$"CREW_ENDPOINTS:{endpoint}:Url"] = "http://127.0.0.1:9/run-crew" });
        await using var third = Instance(settings);
        Assert.Equal(TimeSpan.Zero, await second.Pace.TryStartAsync(second.Endpoint(endpoint), CancellationToken.None));

        await first.Pace.PauseAsync(first.Endpoint(endpoint), TimeSpan.FromSeconds(30), CancellationToken.None);

        // The unlimited instance read the row a moment ago: it sees the pause once a second has passed.
        await Testing.Eventually.HoldsAsync(
            async () => await second.Pace.TryStartAsync(second.Endpoint(endpoint), CancellationToken.None) > TimeSpan.FromSeconds(25),
            "the unlimited instance sees the pause", TimeSpan.FromSeconds(5));
        Assert.True(await third.Pace.TryStartAsync(third.Endpoint(endpoint), CancellationToken.None) > TimeSpan.FromSeconds(25));
        Assert.True(await first.Pace.TryStartAsync(first.Endpoint(endpoint), CancellationToken.None) > TimeSpan.FromSeconds(25));
    }

    [Fact]
    public async Task Users_of_a_cancelled_or_spent_run_wait_for_no_start_of_a_paced_endpoint_and_take_none()
    {
        // One start a minute: a user who waited for the pace would wait a minute.
        var endpoint = $"drain-{Guid.NewGuid():N}"[..20];
        await using var instance = Instance(new Dictionary<string, string?>
        {
            [$"CREW_ENDPOINTS:{endpoint}:Url"] = "http://127.0.0.1:9/run-crew", [$"CREW_ENDPOINTS:{endpoint}:CallsPerMinute"] = "1",
        });
        var paced = instance.Endpoint(endpoint);
        var (cancelled, spent, live) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await instance.Ledger.CancelRunAsync(cancelled, DateTimeOffset.UtcNow, CancellationToken.None);
        var budget = new RunBudget { MaxCalls = 1 };
        Assert.IsType<ClaimResult.Claimed>(await Claim(instance.Ledger, spent, "first", new CallSpend(spent, budget, 0m)));
        RunCrewForUser Call(Guid runId) => new() { RunId = runId, UserUid = "next", Endpoint = endpoint, Budget = budget };

        Assert.Equal(TimeSpan.Zero, await instance.Pace.TryStartAsync(paced, CancellationToken.None, Call(live)));
        Assert.Equal(TimeSpan.Zero, await instance.Pace.TryStartAsync(paced, CancellationToken.None, Call(cancelled)));
        Assert.Equal(TimeSpan.Zero, await instance.Pace.TryStartAsync(paced, CancellationToken.None, Call(spent)));

        // The live run's start was taken; neither of the others took one, so the next live user still waits its minute.
        Assert.True(await instance.Pace.TryStartAsync(paced, CancellationToken.None, Call(live)) > TimeSpan.FromSeconds(55));
    }

    private static Task<ClaimResult> Claim(CrewCallLedger ledger, Guid runId, string user, CallSpend spend) =>
        ledger.TryClaimAsync(runId, user, "default", Lease, false, spend, CancellationToken.None);

    private async Task<(int Calls, decimal Reserved, decimal Spent)> ScopeAsync(string scope)
    {
        await using var connection = database.OpenConnection();
        await using var command = new NpgsqlCommand("SELECT calls, reserved, spent FROM crew_caller.spend_scopes WHERE scope = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = scope });
        await using var row = await command.ExecuteReaderAsync();
        Assert.True(await row.ReadAsync(), $"scope {scope} exists");
        return (row.GetInt32(0), row.GetDecimal(1), row.GetDecimal(2));
    }

    private CrewCallerInstanceScope Instance(IReadOnlyDictionary<string, string?>? settings = null, string? connectionString = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings ?? new Dictionary<string, string?>()).Build();
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton(NpgsqlDataSource.Create(connectionString ?? database.PostgresConnectionString));
        services.AddCrewCaller(configuration);
        return new CrewCallerInstanceScope(services.BuildServiceProvider());
    }

    /// <summary>One CrewCaller instance's ledger and pace.</summary>
    private sealed class CrewCallerInstanceScope(ServiceProvider services) : IAsyncDisposable
    {
        public CrewCallLedger Ledger => services.GetRequiredService<CrewCallLedger>();

        public CrewPace Pace => services.GetRequiredService<CrewPace>();

        public CrewEndpoint Endpoint(string name) => services.GetRequiredService<CrewEndpoints>().For(name);

        public ValueTask DisposeAsync() => services.DisposeAsync();
    }
}
