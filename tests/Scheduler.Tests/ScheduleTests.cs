using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Scheduling;
using CrewPlatform.Testing;
using Microsoft.Extensions.Time.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>The persisted schedule under a fake clock, ticked the way Coravel ticks it, over real PostgreSQL.</summary>
public sealed class ScheduleTests(SchedulerDatabase database) : IClassFixture<SchedulerDatabase>
{
    private static readonly DateTimeOffset Start = new(2025, 3, 3, 9, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan TickEvery = TimeSpan.FromMinutes(1);

    private static Dictionary<string, string?> Settings(string overlap = "allow", string? interval = null, string? autostart = null, string? staleAfter = null) => new()
    {
        ["CREW_SCHEDULER_OVERLAP"] = overlap,
        ["CREW_SCHEDULER_RUN_STALE_AFTER_MINUTES"] = staleAfter,
        ["CREW_SCHEDULER_INTERVAL_MINUTES"] = interval,
        ["CREW_SCHEDULER_AUTOSTART"] = autostart,
    };

    private async Task<SchedulerTestHost> StartAsync(FakeTimeProvider clock, Dictionary<string, string?> settings)
    {
        var host = await SchedulerTestHost.StartAsync(database, clock, settings);
        await database.ResetAsync();
        return host;
    }

    /// <summary>
    /// Ticks as Coravel's minute ticks would until <paramref name="until"/>, returning when runs started, but moves the
    /// clock straight to the ticks that can tell something: the one just before the next due time (nothing may fire
    /// yet) and the one at it (it must fire). The idle ticks in between would each be a database round trip for a
    /// 1440-minute schedule's thousands of minutes, and ask nothing the tick just before the due time does not.
    /// </summary>
    private static async Task<List<DateTimeOffset>> TickUntilAsync(SchedulerTestHost host, FakeTimeProvider clock, DateTimeOffset until)
    {
        var fired = new List<DateTimeOffset>();
        while (clock.GetUtcNow() < until)
        {
            var lastIdleTick = (await host.GetScheduleAsync()).NextDueAt is { } due && due - TickEvery < until ? due - TickEvery : until;
            var nextTick = clock.GetUtcNow() + TickEvery;
            clock.SetUtcNow(lastIdleTick > nextTick ? lastIdleTick : nextTick);
            if (await host.TickAsync() == TickOutcome.RunStarted)
            {
                fired.Add(clock.GetUtcNow());
            }
        }

        return fired;
    }

    /// <summary>Three users and a 30-minute schedule, ticked to its first run at 09:30 and until that run has dispatched them all.</summary>
    private async Task<(List<DateTimeOffset> Fired, Run First)> FirstRunOfThreeUsersAsync(SchedulerTestHost host, FakeTimeProvider clock)
    {
        await database.AddUsersAsync(3);
        await host.StartScheduleAsync(30);
        var fired = await TickUntilAsync(host, clock, Start.AddMinutes(30));
        var first = Assert.Single(await host.RunsAsync());
        await Eventually.HoldsAsync(async () => (await host.RunAsync(first.Id))?.Dispatched == 3, "the first run dispatched its users");
        return (fired, first);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(45)]
    [InlineData(90)]
    [InlineData(1440)]
    public async Task An_interval_of_any_whole_number_of_minutes_fires_exactly_that_far_apart(int intervalMinutes)
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await StartAsync(clock, Settings());

        await host.StartScheduleAsync(intervalMinutes);
        var fired = await TickUntilAsync(host, clock, Start.AddMinutes((3 * intervalMinutes) + intervalMinutes - 1));

        var expected = new[] { 1, 2, 3 }.Select(k => Start.AddMinutes(k * intervalMinutes)).ToList();
        Assert.Equal(expected, fired);
        var runs = await host.RunsAsync();
        Assert.Equal(expected, runs.Select(r => r.DueAt!.Value));
        Assert.All(runs, r => Assert.Equal(RunTrigger.Schedule, r.Trigger));
        Assert.Equal(Start.AddMinutes(4 * intervalMinutes), (await host.GetScheduleAsync()).NextDueAt);
    }

    [Fact]
    public async Task A_fresh_install_takes_its_interval_and_autostart_from_the_settings()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await StartAsync(clock, Settings(interval: "7", autostart: "true"));

        var schedule = await host.GetScheduleAsync();

        Assert.True(schedule.IsRunning);
        Assert.Equal(7, schedule.IntervalMinutes);
        Assert.Equal(Start.AddMinutes(7), schedule.NextDueAt);
    }

    [Fact]
    public async Task A_fresh_install_without_autostart_waits_for_start()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await StartAsync(clock, Settings());

        var schedule = await host.GetScheduleAsync();
        var fired = await TickUntilAsync(host, clock, Start.AddMinutes(61));

        Assert.False(schedule.IsRunning);
        Assert.Equal(60, schedule.IntervalMinutes);
        Assert.Null(schedule.NextDueAt);
        Assert.Empty(fired);
    }

    [Fact]
    public async Task A_restart_keeps_the_stored_schedule_over_the_settings()
    {
        var clock = new FakeTimeProvider(Start);
        var before = await StartAsync(clock, Settings(interval: "45"));
        await before.StartScheduleAsync(45);
        var firedBefore = await TickUntilAsync(before, clock, Start.AddMinutes(50));
        await before.DisposeAsync();

        // The new instance's settings would say "every 5 minutes, stopped"; the stored schedule wins.
        await using var after = await SchedulerTestHost.StartAsync(database, clock, Settings(interval: "5", autostart: "false"));
        var schedule = await after.GetScheduleAsync();
        var firedAfter = await TickUntilAsync(after, clock, Start.AddMinutes(135));

        Assert.Equal([Start.AddMinutes(45)], firedBefore);
        Assert.True(schedule.IsRunning);
        Assert.Equal(45, schedule.IntervalMinutes);
        Assert.Equal(Start.AddMinutes(90), schedule.NextDueAt);
        Assert.Equal([Start.AddMinutes(90), Start.AddMinutes(135)], firedAfter);
    }

    [Fact]
    public async Task Downtime_across_five_due_times_fires_once_and_carries_on_in_step()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await StartAsync(clock, Settings());
        await host.StartScheduleAsync(10);
        Assert.Equal([Start.AddMinutes(10)], await TickUntilAsync(host, clock, Start.AddMinutes(10)));

        // Down from 09:11 to 10:05: the due times 09:20, 09:30, 09:40, 09:50 and 10:00 pass without a tick.
        clock.SetUtcNow(Start.AddMinutes(65));
        var firstTick = await host.TickAsync();
        var secondTick = await host.TickAsync();
        var schedule = await host.GetScheduleAsync();
        var fired = await TickUntilAsync(host, clock, Start.AddMinutes(80));

        Assert.Equal(TickOutcome.RunStarted, firstTick);
        Assert.Equal(TickOutcome.NothingDue, secondTick);
        Assert.Equal(Start.AddMinutes(70), schedule.NextDueAt);
        Assert.Equal([Start.AddMinutes(70), Start.AddMinutes(80)], fired);
        var runs = await host.RunsAsync();
        Assert.Equal(4, runs.Count);
        Assert.Equal(Start.AddMinutes(20), runs[1].DueAt);
        Assert.Equal(Start.AddMinutes(65), runs[1].StartedAt);
    }

    [Fact]
    public async Task A_due_time_while_the_previous_run_is_still_going_is_recorded_as_skipped()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await StartAsync(clock, Settings(overlap: "skip"));
        var (fired, _) = await FirstRunOfThreeUsersAsync(host, clock);
        Assert.Equal([Start.AddMinutes(30)], fired);

        // Nobody answers for the first run's users, so it is still going at the next due time.
        clock.Advance(TimeSpan.FromMinutes(30));
        var outcome = await host.TickAsync();

        Assert.Equal(TickOutcome.RunSkipped, outcome);
        var runs = await host.RunsAsync();
        Assert.Equal(2, runs.Count);
        Assert.Equal(RunStatus.Running, runs[0].Status);
        Assert.Equal((RunStatus.Skipped, Start.AddMinutes(60), Start.AddMinutes(60)), (runs[1].Status, runs[1].DueAt!.Value, runs[1].CompletedAt!.Value));
        Assert.Equal(0, runs[1].Dispatched);
        Assert.Equal(Start.AddMinutes(90), (await host.GetScheduleAsync()).NextDueAt);
        Assert.True(await host.Harness.Published.Any<CrewPlatform.Contracts.CrewRunSkipped>(m => m.Context.Message.RunId == runs[1].Id && m.Context.Message.DueAt == Start.AddMinutes(60)));
    }

    [Fact]
    public async Task A_run_still_going_after_the_stale_limit_no_longer_makes_due_times_skip()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await StartAsync(clock, Settings(overlap: "skip", staleAfter: "45"));
        await FirstRunOfThreeUsersAsync(host, clock);

        // 30 minutes after its last progress (its pages), the never-answered run still blocks; 60 minutes after, it is stale.
        clock.Advance(TimeSpan.FromMinutes(30));
        Assert.Equal(TickOutcome.RunSkipped, await host.TickAsync());
        clock.Advance(TimeSpan.FromMinutes(30));
        Assert.Equal(TickOutcome.RunStarted, await host.TickAsync());
    }

    [Fact]
    public async Task A_run_that_keeps_recording_outcomes_still_makes_due_times_skip_past_the_stale_limit()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await StartAsync(clock, Settings(overlap: "skip", staleAfter: "45"));
        var (_, first) = await FirstRunOfThreeUsersAsync(host, clock);
        clock.Advance(TimeSpan.FromMinutes(30));
        var at60 = await host.TickAsync();

        // An outcome 50 minutes into the run is progress: at 60 minutes the run is long, but not stale.
        clock.Advance(TimeSpan.FromMinutes(20));
        await host.Harness.Bus.Publish(new CrewPlatform.Contracts.CrewResponseStored
        {
            RunId = first.Id, UserUid = SchedulerDatabase.UserUid(1), ResponseId = 1, StoredAt = clock.GetUtcNow(),
        });
        await Eventually.HoldsAsync(async () => (await host.RunAsync(first.Id))?.Succeeded == 1, "the outcome was recorded");
        clock.Advance(TimeSpan.FromMinutes(10));
        var at90 = await host.TickAsync();
        clock.Advance(TimeSpan.FromMinutes(30));
        var at120 = await host.TickAsync();
        clock.Advance(TimeSpan.FromMinutes(30));
        var at150 = await host.TickAsync();

        Assert.Equal(
            [TickOutcome.RunSkipped, TickOutcome.RunSkipped, TickOutcome.RunSkipped, TickOutcome.RunStarted],
            [at60, at90, at120, at150]);
    }

    [Fact]
    public async Task With_overlap_allowed_a_due_time_starts_a_run_even_while_the_previous_one_is_going()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await StartAsync(clock, Settings(overlap: "allow"));
        await FirstRunOfThreeUsersAsync(host, clock);
        clock.Advance(TimeSpan.FromMinutes(30));

        Assert.Equal(TickOutcome.RunStarted, await host.TickAsync());
        Assert.All(await host.RunsAsync(), r => Assert.Equal(RunStatus.Running, r.Status));
    }

    [Fact]
    public async Task Starting_a_running_schedule_with_a_new_interval_moves_the_next_run_one_new_interval_ahead()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await StartAsync(clock, Settings());
        await host.StartScheduleAsync(60);
        clock.Advance(TimeSpan.FromMinutes(20));

        var sameInterval = await host.StartScheduleAsync(60);
        var newInterval = await host.StartScheduleAsync(15);

        Assert.Equal(Start.AddMinutes(60), sameInterval.NextDueAt);
        Assert.Equal((true, 15, Start.AddMinutes(35)), (newInterval.IsRunning, newInterval.IntervalMinutes, newInterval.NextDueAt!.Value));
    }

    [Fact]
    public async Task A_stopped_schedule_never_fires()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await StartAsync(clock, Settings());
        await host.StartScheduleAsync(5);
        await host.InScopeAsync(services => Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions
            .GetRequiredService<ScheduleService>(services).StopAsync(actor: null, CancellationToken.None));

        Assert.Empty(await TickUntilAsync(host, clock, Start.AddMinutes(30)));
        Assert.Empty(await host.RunsAsync());
    }
}
