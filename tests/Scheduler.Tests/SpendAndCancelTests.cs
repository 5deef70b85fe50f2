using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Runs;
using CrewPlatform.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>
/// Spend, budgets and cancel in the run bookkeeping over real PostgreSQL: users the crew caller did not call, the cost
/// and duration of those it did, a cancelled run's completion, and the pages of a cancelled or budget-exhausted run.
/// </summary>
public sealed class SpendAndCancelTests(SchedulerDatabase database) : IClassFixture<SchedulerDatabase>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly DateTimeOffset Start = new(2025, 3, 3, 9, 0, 0, TimeSpan.Zero);

    private async Task<SchedulerTestHost> StartAsync()
    {
        var host = await SchedulerTestHost.StartAsync(database, new FakeTimeProvider(Start));
        await database.ResetAsync();
        return host;
    }

    private static Run NewRun(int dispatched, bool fanOutCompleted = true) => new()
    {
        Id = Guid.NewGuid(), StartedAt = Start, LastProgressAt = Start, Status = RunStatus.Running, FanOutCompleted = fanOutCompleted,
        Dispatched = dispatched, ScheduleId = ScheduleState.DefaultId, NextPageNumber = 1,
    };

    private static RunUser[] Dispatched(Run run, int users) =>
        [.. Enumerable.Range(1, users).Select(i => new RunUser { RunId = run.Id, UserUid = SchedulerDatabase.UserUid(i) })];

    private static string Uid(int i) => SchedulerDatabase.UserUid(i);

    [Fact]
    public async Task Users_not_called_leave_dispatched_once_and_costs_add_up_however_often_the_outcomes_come()
    {
        await using var host = await StartAsync();
        var run = NewRun(dispatched: 4);
        await host.AddRunAsync(run, Dispatched(run, 4));
        var progress = host.Services.GetRequiredService<RunProgress>();
        using var metrics = new MetricRecorder(host.Services);
        UserOutcome[] outcomes =
        [
            UserOutcome.NotCalled(run.Id, Uid(1), CrewCallSkipped.BudgetReason),
            UserOutcome.NotCalled(run.Id, Uid(2), CrewCallSkipped.CancelledReason),
            UserOutcome.Success(run.Id, Uid(3), cost: 0.5m, durationMs: 1200),
            UserOutcome.Failure(run.Id, Uid(4), "HTTP 500 from crew API", cost: 0.25m),
        ];

        var completion = Assert.Single(await progress.RecordOutcomesAsync(outcomes, CancellationToken.None));
        Assert.Empty(await progress.RecordOutcomesAsync(outcomes, CancellationToken.None));
        Assert.Equal(1, metrics.Sum("crew_run_budget_exhausted", ("schedule", "1")));

        Assert.Equal((RunStatus.Completed, 2, 1, 1, 1, 1, 0.75m, true), (
            completion.Status, completion.Dispatched, completion.Succeeded, completion.Failed, completion.Skipped,
            completion.Cancelled, completion.Spent, completion.BudgetExhausted));
        var stored = await host.RunAsync(run.Id);
        Assert.Equal((2, 1, 1, 1, 1, 0.75m, true), (stored!.Dispatched, stored.Succeeded, stored.Failed, stored.Skipped, stored.Cancelled, stored.Spent, stored.BudgetExhausted));
        var users = await host.RunUsersAsync(run.Id);
        Assert.Equal(
            [(RunUserStatus.Skipped, "budget", null, null), (RunUserStatus.Cancelled, null, null, null),
             (RunUserStatus.Succeeded, null, 0.5m, 1200L), (RunUserStatus.Failed, "HTTP 500 from crew API", 0.25m, (long?)null)],
            users.Select(u => (u.Status, u.Reason, u.Cost, u.DurationMs)));
    }

    [Fact]
    public async Task A_cancelled_run_whose_users_all_have_outcomes_completes_as_cancelled_through_the_consumers()
    {
        await using var host = await StartAsync();
        var run = NewRun(dispatched: 3);
        run.CancelRequestedAt = Start;
        await host.AddRunAsync(run, Dispatched(run, 3));

        var skipped = new[] { 1, 2 }.Select(i => new CrewCallSkipped
        {
            RunId = run.Id, UserUid = Uid(i), Reason = CrewCallSkipped.CancelledReason, SkippedAt = Start,
        }).ToList();
        await host.Harness.Bus.PublishBatch(skipped);
        await host.Harness.Bus.PublishBatch(skipped);
        await host.Harness.Bus.Publish(new CrewResponseStored { RunId = run.Id, UserUid = Uid(3), ResponseId = 3, StoredAt = Start, Cost = 1.25m, DurationMs = 900 });

        await Eventually.HoldsAsync(
            async () => await database.ScalarAsync<bool>("SELECT completion_published_at IS NOT NULL FROM scheduler.runs WHERE id = $1", run.Id),
            "the cancelled run's completion was published", Timeout);
        var completed = Assert.Single(host.PublishedSoFar<CrewRunCompleted>(), c => c.RunId == run.Id);
        Assert.Equal((RunStatus.Cancelled, 1, 1, 2, 1.25m), (completed.Status, completed.Dispatched, completed.Succeeded, completed.Cancelled, completed.Spent));
        Assert.Equal(RunStatus.Cancelled, (await host.RunAsync(run.Id))!.Status);
    }

    [Theory]
    [InlineData(true, RunUserStatus.Cancelled, null)]
    [InlineData(false, RunUserStatus.Skipped, "budget")]
    public async Task A_page_of_a_cancelled_or_budget_exhausted_run_records_its_users_as_not_called_and_sends_nothing(
        bool cancelled, string expectedStatus, string? expectedReason)
    {
        await using var host = await StartAsync();
        await database.AddUsersAsync(4, i => i == 4 ? (null, null) : ($"context {i}", $"goal {i}"));
        var run = NewRun(dispatched: 0, fanOutCompleted: false);
        run.CancelRequestedAt = cancelled ? Start : null;
        run.BudgetExhausted = !cancelled;
        await host.AddRunAsync(run);

        await host.Harness.Bus.Publish(RunStarter.Page(run, afterUserUid: null, pageNumber: 1, pageSize: 10));

        await Eventually.HoldsAsync(
            async () => (await host.RunAsync(run.Id))!.Status != RunStatus.Running, "the run ended with its only page", Timeout);
        Assert.DoesNotContain(host.SentSoFar<RunCrewForUser>(), c => c.RunId == run.Id);
        var users = await host.RunUsersAsync(run.Id);
        Assert.Equal(
            [(expectedStatus, expectedReason), (expectedStatus, expectedReason), (expectedStatus, expectedReason), (RunUserStatus.Skipped, null)],
            users.Select(u => (u.Status, u.Reason)));
        var stored = await host.RunAsync(run.Id);
        Assert.Equal(
            (cancelled ? RunStatus.Cancelled : RunStatus.Completed, 0, cancelled ? 1 : 4, cancelled ? 3 : 0),
            (stored!.Status, stored.Dispatched, stored.Skipped, stored.Cancelled));
    }

    [Fact]
    public async Task Every_command_of_a_run_with_limits_carries_its_budget_with_the_schedules_day_scope()
    {
        await using var host = await StartAsync();
        await database.AddUsersAsync(2);
        var run = NewRun(dispatched: 0, fanOutCompleted: false);
        (run.MaxCallsPerRun, run.MaxSpendPerRun, run.MaxSpendPerDay) = (100, 2.5m, 10m);
        await host.AddRunAsync(run);

        await host.Harness.Bus.Publish(RunStarter.Page(run, afterUserUid: null, pageNumber: 1, pageSize: 10));

        await Eventually.HoldsAsync(() => host.SentSoFar<RunCrewForUser>().Count(c => c.RunId == run.Id) == 2, "both users were sent", Timeout);
        Assert.All(host.SentSoFar<RunCrewForUser>().Where(c => c.RunId == run.Id), command => Assert.Equal(
            new RunBudget { MaxCalls = 100, MaxSpend = 2.5m, MaxSpendPerDay = 10m, DayScope = "schedule:1:2025-03-03" }, command.Budget));
    }

    [Fact]
    public async Task The_reconciler_announces_the_cancel_of_a_running_run_again_and_not_that_of_an_ended_one()
    {
        await using var host = await StartAsync();
        var running = NewRun(dispatched: 1);
        running.CancelRequestedAt = Start;
        var ended = NewRun(dispatched: 0);
        (ended.CancelRequestedAt, ended.Status, ended.CompletedAt, ended.CompletionPublishedAt) = (Start, RunStatus.Cancelled, Start, Start);
        await host.AddRunAsync(running, Dispatched(running, 1));
        await host.AddRunAsync(ended);

        var pass = await host.ReconcileAsync();

        Assert.Equal(1, pass.CancelsAnnounced);
        var announced = Assert.Single(host.PublishedSoFar<CrewRunCancelled>());
        Assert.Equal((running.Id, Start), (announced.RunId, announced.CancelledAt));
    }
}
