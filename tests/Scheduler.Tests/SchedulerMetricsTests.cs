using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Runs;
using CrewPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>SchedulerMetrics as runs end: runs by final status, their users by outcome, and the gauges the alerts watch.</summary>
public sealed class SchedulerMetricsTests(SchedulerDatabase database) : IClassFixture<SchedulerDatabase>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly DateTimeOffset Now = new(2025, 3, 3, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Runs_are_counted_by_final_status_with_their_users_by_outcome_and_their_duration()
    {
        var clock = new FakeTimeProvider(Now);
        await using var host = await SchedulerTestHost.StartAsync(database, clock, new Dictionary<string, string?> { ["CREW_SCHEDULER_OVERLAP"] = "skip" });
        await database.ResetAsync();
        await database.AddUsersAsync(3, i => i == 3 ? (null, null) : ($"context {i}", "goal"));
        using var metrics = new MetricRecorder(host.Services);

        var allAnswered = await FannedOutRunAsync(host);
        clock.Advance(TimeSpan.FromMinutes(2));
        await OutcomeAsync(host, Stored(allAnswered, 1));
        await OutcomeAsync(host, Stored(allAnswered, 2));

        var oneFailed = await FannedOutRunAsync(host);
        await host.StartScheduleAsync(1);
        clock.Advance(TimeSpan.FromMinutes(1));
        await host.TickAsync();
        await OutcomeAsync(host, Stored(oneFailed, 1));
        await OutcomeAsync(host, new CrewCallFailed { RunId = oneFailed, UserUid = SchedulerDatabase.UserUid(2), Reason = "HTTP 400 from crew API", StatusCode = 400, Attempts = 1, FailedAt = Now });

        Assert.Equal(1, metrics.Sum("scheduler_runs", ("status", "completed")));
        Assert.Equal(1, metrics.Sum("scheduler_runs", ("status", "failed")));
        Assert.Equal(1, metrics.Sum("scheduler_runs", ("status", "skipped")));
        Assert.Equal(3, metrics.Sum("scheduler_run_users", ("outcome", "succeeded")));
        Assert.Equal(1, metrics.Sum("scheduler_run_users", ("outcome", "failed")));
        Assert.Equal(2, metrics.Sum("scheduler_run_users", ("outcome", "skipped")));
        Assert.Equal([120.0, 60.0], metrics.Values("scheduler_run_duration"));
    }

    [Fact]
    public async Task The_gauges_show_the_next_due_time_and_how_long_a_running_run_went_without_progress()
    {
        var clock = new FakeTimeProvider(Now);
        await using var host = await SchedulerTestHost.StartAsync(database, clock);
        await database.ResetAsync();
        await database.AddUsersAsync(2);
        using var metrics = new MetricRecorder(host.Services);

        await RefreshAsync(host);
        Assert.Null(metrics.Observe("scheduler_next_due_timestamp"));
        Assert.Equal(0, metrics.Observe("scheduler_runs_running"));
        Assert.Equal(0, metrics.Observe("scheduler_run_progress_age"));

        await host.StartScheduleAsync(30);
        await FannedOutRunAsync(host);
        clock.Advance(TimeSpan.FromMinutes(20));
        await RefreshAsync(host);

        Assert.Equal(Now.AddMinutes(30).ToUnixTimeSeconds(), metrics.Observe("scheduler_next_due_timestamp", ("schedule", "default")));
        Assert.Equal(1, metrics.Observe("scheduler_runs_running"));
        Assert.Equal(20 * 60, metrics.Observe("scheduler_run_progress_age"));
        Assert.Equal(1, metrics.Observe("scheduler_reconciler_backlog", ("kind", "awaiting_outcomes")));
        Assert.Equal(0, metrics.Observe("scheduler_reconciler_backlog", ("kind", "stalled_fan_out")));
    }

    private static Task RefreshAsync(SchedulerTestHost host) =>
        host.InScopeAsync(async services =>
        {
            await services.GetRequiredService<RunGaugesRefresh>().RefreshAsync(CancellationToken.None);
            return true;
        });

    private static async Task<Guid> FannedOutRunAsync(SchedulerTestHost host)
    {
        var run = await host.RunNowAsync();
        await Eventually.HoldsAsync(async () => (await host.RunAsync(run.Id))?.FanOutCompleted == true, "the fan-out is done", Timeout);
        return run.Id;
    }

    private static CrewResponseStored Stored(Guid runId, int user) =>
        new() { RunId = runId, UserUid = SchedulerDatabase.UserUid(user), ResponseId = user, StoredAt = Now };

    private static async Task OutcomeAsync<T>(SchedulerTestHost host, T message) where T : class
    {
        await host.Harness.Bus.Publish(message);
        await Eventually.HoldsAsync(() => host.ConsumedSoFar<T>().Any(m => m.Equals(message)), $"{typeof(T).Name} was consumed", Timeout);
    }
}
