using CrewPlatform.Scheduler.Scheduling;
using Microsoft.Extensions.Time.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>Replicas racing for the same due time over the same real database.</summary>
public sealed class ConcurrentClaimTests(SchedulerDatabase database) : IClassFixture<SchedulerDatabase>
{
    private static readonly DateTimeOffset Start = new(2025, 3, 3, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Two_scheduler_instances_ticking_the_same_due_time_start_one_run()
    {
        var clock = new FakeTimeProvider(Start);
        var settings = new Dictionary<string, string?> { ["CREW_SCHEDULER_OVERLAP"] = "allow" };
        await using var first = await SchedulerTestHost.StartAsync(database, clock, settings);
        await using var second = await SchedulerTestHost.StartAsync(database, clock, settings);
        await database.ResetAsync();
        await first.StartScheduleAsync(1);

        const int dueTimes = 25;
        var startedPerDueTime = new List<int>();
        for (var i = 0; i < dueTimes; i++)
        {
            clock.Advance(TimeSpan.FromMinutes(1));

            // Both instances, each with two ticks in flight (as after a slow tick), released together.
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
        var runs = await first.RunsAsync();
        Assert.Equal(dueTimes, runs.Count);
        Assert.Equal(Enumerable.Range(1, dueTimes).Select(k => Start.AddMinutes(k)), runs.Select(r => r.DueAt!.Value).Order());
    }
}
