using CrewPlatform.CrewCaller.CrewApi;

namespace CrewPlatform.CrewCaller.Tests.Harness;

public sealed class RetryScheduleTests
{
    private static readonly CrewCallerOptions Options = new() { RetryBaseDelayMs = 1_000, RetryMaxDelaySeconds = 30 };

    [Theory]
    [InlineData(1, 750, 1_250)]
    [InlineData(2, 1_500, 2_500)]
    [InlineData(3, 3_000, 5_000)]
    public void Backoff_doubles_per_attempt_within_a_quarter_of_jitter(int failedAttempt, int atLeastMs, int atMostMs)
    {
        var random = new Random(7);
        for (var i = 0; i < 200; i++)
        {
            var delay = RetrySchedule.DelayAfter(failedAttempt, null, Options, random);
            Assert.InRange(delay.TotalMilliseconds, atLeastMs, atMostMs);
        }
    }

    [Fact]
    public void Jitter_spreads_the_delays_of_users_that_failed_together()
    {
        var random = new Random(7);
        var delays = Enumerable.Range(0, 20).Select(_ => RetrySchedule.DelayAfter(1, null, Options, random)).Distinct().Count();
        Assert.True(delays > 10, $"only {delays} distinct delays out of 20");
    }

    [Fact]
    public void A_retry_after_longer_than_the_backoff_is_waited_in_full()
    {
        var delay = RetrySchedule.DelayAfter(1, TimeSpan.FromSeconds(7), Options, new Random(1));
        Assert.Equal(TimeSpan.FromSeconds(7), delay);
    }

    [Fact]
    public void Both_backoff_and_retry_after_are_capped_by_the_maximum_delay()
    {
        Assert.Equal(TimeSpan.FromSeconds(30), RetrySchedule.DelayAfter(1, TimeSpan.FromHours(1), Options, new Random(1)));
        Assert.Equal(TimeSpan.FromSeconds(30), RetrySchedule.DelayAfter(12, null, Options, new Random(1)));
    }
}
