using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.Tests.Support;
using CrewPlatform.Testing;

namespace CrewPlatform.CrewCaller.Tests.Integration;

/// <summary>Settings for <see cref="SpendOverRealInfrastructureTests"/>: a price per call, fast retries, no circuit in the way.</summary>
public sealed class PricedSettings : ICrewSettingsProfile
{
    public static IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>
    {
        ["CREW_COST_PER_CALL"] = "0.25",
        ["CREW_COST_POINTER"] = "/usage/total_cost",
        ["CREW_MAX_ATTEMPTS"] = "3",
        ["CREW_RETRY_BASE_DELAY_MS"] = "50",
        ["CREW_CIRCUIT_ACTIVATION_THRESHOLD"] = "100000",
    };
}

/// <summary>Cost, budgets and cancel through the real service, RabbitMQ, PostgreSQL and the fake crew API.</summary>
public sealed class SpendOverRealInfrastructureTests(CrewCallerApp<PricedSettings> app) : IClassFixture<CrewCallerApp<PricedSettings>>
{
    [Fact]
    public async Task An_answer_without_its_own_figure_costs_the_price_per_call_in_the_ledger_on_every_announcement_and_in_crew_spend_total()
    {
        using var metrics = new MetricRecorder(app.Services);
        var command = Messages.RunCrewForUser() with { ScheduleId = 7 };

        await app.SendAsync(command);
        var received = await app.ReceivedAsync(command);
        await app.SendAsync(command);
        await app.ReceivedAsync(command, count: 2);

        Assert.Equal(0.25m, received.Cost);
        Assert.All(app.ReceivedFor(command), r => Assert.Equal(0.25m, r.Cost));
        Assert.Equal(0.25m, await app.ScalarAsync<decimal>("SELECT cost FROM crew_caller.crew_calls WHERE run_id = $1", command.RunId));

        // Counted once, when recorded: announcing it again from the ledger spends nothing more.
        Assert.Equal(0.25, metrics.Sum("crew_spend", ("endpoint", "default"), ("schedule", "7")));
    }

    [Fact]
    public async Task A_retry_the_budget_has_no_room_for_ends_the_call_and_the_next_user_of_the_run_is_skipped()
    {
        var budget = new RunBudget { MaxCalls = 1 };
        var first = Messages.RunCrewForUser() with { Budget = budget };
        var second = first with { UserUid = $"{first.UserUid}-2", Context = $"{first.Context} 2" };
        app.Fake.State.SetUserPlans(new Dictionary<string, FakeCrewApi.FakeUserPlan> { [first.UserUid] = new(["500"], "ok", null) });

        await app.SendAsync(first);
        var failed = await app.FailedAsync(first);
        await app.SendAsync(second);
        var skipped = await SkippedAsync(second, 1);

        Assert.Equal(("budget exhausted after 1 attempts", 1, 0.25m), (failed.Reason, failed.Attempts, failed.Cost));
        Assert.Single(app.CallsFor(first));
        Assert.Equal(CrewCallSkipped.BudgetReason, skipped.Reason);
        Assert.Empty(app.CallsFor(second));

        // The command coming again announces the skip again.
        await app.SendAsync(second);
        await SkippedAsync(second, 2);
        Assert.Equal((1, 0m, 0.25m), (await app.ScalarAsync<int>("SELECT calls FROM crew_caller.spend_scopes WHERE scope = $1", $"run:{first.RunId}"),
            await app.ScalarAsync<decimal>("SELECT reserved FROM crew_caller.spend_scopes WHERE scope = $1", $"run:{first.RunId}"),
            await app.ScalarAsync<decimal>("SELECT spent FROM crew_caller.spend_scopes WHERE scope = $1", $"run:{first.RunId}")));
    }

    [Fact]
    public async Task After_a_run_is_cancelled_its_users_are_skipped_and_never_called()
    {
        var command = Messages.RunCrewForUser();

        await app.PublishAsync(new CrewRunCancelled { RunId = command.RunId, CancelledAt = DateTimeOffset.UtcNow });
        await Eventually.HoldsAsync(
            async () => await app.ScalarAsync<long>("SELECT count(*) FROM crew_caller.cancelled_runs WHERE run_id = $1", command.RunId) == 1,
            "the cancel is recorded", TimeSpan.FromSeconds(30));
        await app.SendAsync(command);
        var skipped = await SkippedAsync(command, 1);

        Assert.Equal((CrewCallSkipped.CancelledReason, "default"), (skipped.Reason, skipped.Endpoint));
        Assert.Empty(app.CallsFor(command));
    }

    private async Task<CrewCallSkipped> SkippedAsync(RunCrewForUser command, int count)
    {
        await Eventually.HoldsAsync(
            () => app.Skipped.Count(s => s.RunId == command.RunId && s.UserUid == command.UserUid) >= count,
            $"CrewCallSkipped has been published {count} time(s) for {command.UserUid}", TimeSpan.FromSeconds(30));
        return app.Skipped.First(s => s.RunId == command.RunId && s.UserUid == command.UserUid);
    }
}
