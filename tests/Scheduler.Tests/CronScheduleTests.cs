using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Scheduling;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>Cron schedules in a time zone and the catch-up policy, ticked under a fake clock over the real database.</summary>
public sealed class CronScheduleTests(SchedulerDatabase database) : IClassFixture<SchedulerDatabase>
{
    private static readonly TimeZoneInfo Paris = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");

    private static readonly Dictionary<string, string?> Settings = new()
    {
        ["CREW_SCHEDULER_OVERLAP"] = "allow",
        ["CREW_SCHEDULER_AUTOSTART"] = "false",
        ["CREW_SCHEDULER_TICK_SECONDS"] = "5",
    };

    /// <summary>A run the tick started: running, or already completed by its fan-out.</summary>
    private static readonly string[] Started = [RunStatus.Running, RunStatus.Completed];

    [Fact]
    public async Task A_weekday_0600_paris_schedule_fires_at_0500z_in_winter_and_0400z_in_summer_never_on_weekends()
    {
        foreach (var (from, utcHour) in new[] { (new DateTimeOffset(2027, 1, 4, 0, 0, 0, TimeSpan.Zero), 5), (new DateTimeOffset(2027, 7, 5, 0, 0, 0, TimeSpan.Zero), 4) })
        {
            var clock = new FakeTimeProvider(from);
            await using var host = await SchedulerTestHost.StartAsync(database, clock, Settings);
            await database.ResetAsync();
            var schedule = await CreateAsync(host, "0 6 * * 1-5", "Europe/Paris");

            // Every quarter of an hour for two weeks: a tick at every quarter, weekends included.
            await TickEveryAsync(host, clock, TimeSpan.FromMinutes(15), TimeSpan.FromDays(14));

            var dues = (await host.RunsAsync()).Where(r => r.ScheduleId == schedule.Id).Select(r => r.DueAt!.Value.ToUniversalTime()).Order().ToList();
            Assert.Equal(10, dues.Count);
            Assert.All(dues, due =>
            {
                Assert.Equal(new TimeSpan(utcHour, 0, 0), due.TimeOfDay);
                Assert.DoesNotContain(due.DayOfWeek, new[] { DayOfWeek.Saturday, DayOfWeek.Sunday });
                Assert.Equal(6, TimeZoneInfo.ConvertTime(due, Paris).Hour);
            });
            Assert.Equal(10, dues.Select(d => d.Date).Distinct().Count());
        }
    }

    [Fact]
    public async Task A_0230_paris_schedule_fires_exactly_once_on_the_spring_forward_and_the_fall_back_days_of_2027()
    {
        foreach (var (day, expectedUtc) in new[]
        {
            // 02:30 does not exist on 28 March 2027 (02:00 CET jumps to 03:00 CEST): once, at 03:00 CEST.
            (new DateOnly(2027, 3, 28), new DateTimeOffset(2027, 3, 28, 1, 0, 0, TimeSpan.Zero)),

            // 02:30 occurs twice on 31 October 2027 (CEST, then CET): once, the first.
            (new DateOnly(2027, 10, 31), new DateTimeOffset(2027, 10, 31, 0, 30, 0, TimeSpan.Zero)),
        })
        {
            var from = new DateTimeOffset(day.AddDays(-2).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
            var clock = new FakeTimeProvider(from);
            await using var host = await SchedulerTestHost.StartAsync(database, clock, Settings);
            await database.ResetAsync();
            var schedule = await CreateAsync(host, "30 2 * * *", "Europe/Paris");

            await TickEveryAsync(host, clock, TimeSpan.FromMinutes(5), TimeSpan.FromDays(4));

            var dues = (await host.RunsAsync()).Where(r => r.ScheduleId == schedule.Id).Select(r => r.DueAt!.Value.ToUniversalTime()).ToList();
            var onTheDay = dues.Where(d => DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(d, Paris).DateTime) == day).ToList();
            Assert.Equal([expectedUtc], onTheDay);
            Assert.Equal(4, dues.Count);
            Assert.Equal(4, dues.Select(d => DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(d, Paris).DateTime)).Distinct().Count());
        }
    }

    [Fact]
    public async Task Two_replicas_racing_on_a_cron_schedule_fire_each_due_time_once()
    {
        var start = new DateTimeOffset(2027, 3, 27, 23, 0, 0, TimeSpan.Zero);
        var clock = new FakeTimeProvider(start);
        await using var first = await SchedulerTestHost.StartAsync(database, clock, Settings);
        await using var second = await SchedulerTestHost.StartAsync(database, clock, Settings);
        await database.ResetAsync();
        var schedule = await CreateAsync(first, "*/30 * * * *", "Europe/Paris");

        // Across the spring-forward night: 12 due times, each raced by two ticks of each replica.
        var startedPerDueTime = new List<int>();
        for (var i = 0; i < 12; i++)
        {
            clock.Advance(TimeSpan.FromMinutes(30));
            using var go = new ManualResetEventSlim();
            var ticks = new[] { first, second, first, second }
                .Select(host => Task.Run(async () =>
                {
                    go.Wait();
                    return await host.TickAsync();
                }))
                .ToList();
            go.Set();
            var outcomes = await Task.WhenAll(ticks);
            startedPerDueTime.Add(outcomes.Count(o => o == TickOutcome.RunStarted));
        }

        Assert.All(startedPerDueTime, started => Assert.Equal(1, started));
        var dues = (await first.RunsAsync()).Where(r => r.ScheduleId == schedule.Id).Select(r => r.DueAt!.Value.ToUniversalTime()).Order();
        Assert.Equal(Enumerable.Range(1, 12).Select(k => start.AddMinutes(30 * k)), dues);
    }

    [Fact]
    public async Task Catch_up_none_after_a_three_hour_outage_starts_no_run_and_records_the_three_missed_due_times()
    {
        var start = new DateTimeOffset(2027, 5, 10, 10, 30, 0, TimeSpan.Zero);
        var clock = new FakeTimeProvider(start);
        await using var host = await SchedulerTestHost.StartAsync(database, clock, Settings);
        await database.ResetAsync();
        var schedule = await CreateAsync(host, "0 * * * *", "Europe/Paris", CatchUpPolicy.None);

        // No replica ticks from 10:30 to 13:30: 11:00, 12:00 and 13:00 pass.
        clock.Advance(TimeSpan.FromHours(3));
        Assert.Equal(TickOutcome.RunSkipped, await host.TickAsync());
        Assert.Equal(TickOutcome.NothingDue, await host.TickAsync());

        var runs = (await host.RunsAsync()).Where(r => r.ScheduleId == schedule.Id).ToList();
        Assert.DoesNotContain(runs, r => r.Status != RunStatus.Skipped);
        Assert.All(runs, r => Assert.Equal(RunSkipReason.Missed, r.SkipReason));
        Assert.Equal([start.AddMinutes(30), start.AddMinutes(90), start.AddMinutes(150)], runs.Select(r => r.DueAt!.Value.ToUniversalTime()).Order());
        Assert.Equal(start.AddMinutes(210), (await GetAsync(host, schedule.Id)).NextDueAt);

        // Back on time: the next due time runs.
        clock.Advance(TimeSpan.FromMinutes(30));
        Assert.Equal(TickOutcome.RunStarted, await host.TickAsync());
        Assert.Equal(4, (await host.RunsAsync()).Count(r => r.ScheduleId == schedule.Id));
    }

    [Fact]
    public async Task Catch_up_none_runs_a_due_time_claimed_within_the_grace_and_records_only_the_older_ones()
    {
        var start = new DateTimeOffset(2027, 5, 10, 10, 30, 0, TimeSpan.Zero);
        var clock = new FakeTimeProvider(start);
        await using var host = await SchedulerTestHost.StartAsync(database, clock, Settings);
        await database.ResetAsync();
        var schedule = await CreateAsync(host, "0 * * * *", "UTC", CatchUpPolicy.None);

        clock.Advance(TimeSpan.FromMinutes(150.5));
        Assert.Equal(TickOutcome.RunStarted, await host.TickAsync());

        var runs = (await host.RunsAsync()).Where(r => r.ScheduleId == schedule.Id).OrderBy(r => r.DueAt).ToList();
        // The started run's fan-out goes on in the background (and a run without users completes): started, not skipped.
        Assert.Equal([RunStatus.Skipped, RunStatus.Skipped], runs.Take(2).Select(r => r.Status));
        Assert.Contains(runs[^1].Status, Started);
        Assert.Equal(start.AddMinutes(150), runs[^1].DueAt);
    }

    [Fact]
    public async Task Catch_up_one_after_a_three_hour_outage_starts_exactly_one_run()
    {
        var start = new DateTimeOffset(2027, 5, 10, 10, 30, 0, TimeSpan.Zero);
        var clock = new FakeTimeProvider(start);
        await using var host = await SchedulerTestHost.StartAsync(database, clock, Settings);
        await database.ResetAsync();
        var schedule = await CreateAsync(host, "0 * * * *", "Europe/Paris", CatchUpPolicy.One);

        clock.Advance(TimeSpan.FromHours(3));
        Assert.Equal(TickOutcome.RunStarted, await host.TickAsync());
        Assert.Equal(TickOutcome.NothingDue, await host.TickAsync());

        var run = Assert.Single(await host.RunsAsync(), r => r.ScheduleId == schedule.Id);
        Assert.Contains(run.Status, Started);
        Assert.Equal(start.AddMinutes(210), (await GetAsync(host, schedule.Id)).NextDueAt);
    }

    [Fact]
    public void Next_due_times_follow_the_zone_across_daylight_saving()
    {
        var cadence = ScheduleCadence.Calendar("30 2 * * *", "Europe/Paris");
        var from = new DateTimeOffset(2027, 3, 26, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal(
            [
                new DateTimeOffset(2027, 3, 27, 1, 30, 0, TimeSpan.Zero),
                new DateTimeOffset(2027, 3, 28, 1, 0, 0, TimeSpan.Zero),
                new DateTimeOffset(2027, 3, 29, 0, 30, 0, TimeSpan.Zero),
            ],
            cadence.Upcoming(cadence.After(from)!.Value, 3));
        Assert.Equal(TimeSpan.FromHours(2), TimeZoneInfo.ConvertTime(new DateTimeOffset(2027, 3, 29, 0, 30, 0, TimeSpan.Zero), cadence.Zone).Offset);

        var seconds = ScheduleCadence.Calendar("15 0 * * * *", null);
        Assert.Equal(new DateTimeOffset(2027, 3, 26, 12, 0, 15, TimeSpan.Zero), seconds.After(from));
    }

    private static Task<ScheduleState> CreateAsync(SchedulerTestHost host, string cron, string zone, string catchUp = CatchUpPolicy.One) =>
        host.InScopeAsync(async services => (await services.GetRequiredService<ScheduleService>().CreateAsync(
            new ScheduleState { Name = "calendar", IsRunning = true, Cron = cron, TimeZone = zone, CatchUp = catchUp, Overlap = "allow" },
            CancellationToken.None))!);

    private static Task<ScheduleState> GetAsync(SchedulerTestHost host, int id) =>
        host.InScopeAsync(async services => (await services.GetRequiredService<ScheduleService>().GetAsync(id, CancellationToken.None))!);

    private static async Task TickEveryAsync(SchedulerTestHost host, FakeTimeProvider clock, TimeSpan step, TimeSpan span)
    {
        for (var elapsed = TimeSpan.Zero; elapsed < span; elapsed += step)
        {
            clock.Advance(step);
            await host.TickAsync();
        }
    }
}
