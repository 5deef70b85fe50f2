using CrewPlatform.ServiceDefaults;
using CrewPlatform.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CrewPlatform.CrewCaller.Tests.Harness;

/// <summary>
/// The in-place retry that records and announces a paid answer: it must outlast an outage, and no single attempt may
/// hang it. A publish in flight when RabbitMQ stops can wait for its confirmation forever; that one await held the
/// crew caller's command endpoint, which reconnects only once its deliveries finish, and stalled a run.
/// </summary>
public sealed class InPlaceRetryTests
{
    [Fact]
    public async Task A_publish_whose_confirmation_never_comes_is_abandoned_after_the_attempt_timeout_and_sent_again()
    {
        var time = new FakeTimeProvider();
        var attempts = 0;
        var firstAttemptCancelled = false;
        var recorded = PlatformRetry.UntilInfrastructureAnswersAsync(
            async ct =>
            {
                if (Interlocked.Increment(ref attempts) == 1)
                {
                    // What RabbitMQ.Client does with the confirmation of a publish whose channel died: waits until cancelled.
                    try
                    {
                        await Task.Delay(Timeout.InfiniteTimeSpan, ct);
                    }
                    catch (OperationCanceledException)
                    {
                        firstAttemptCancelled = true;
                        throw;
                    }
                }

                return attempts;
            },
            time,
            CancellationToken.None,
            NullLogger.Instance);

        time.Advance(PlatformRetry.AttemptTimeout - TimeSpan.FromSeconds(1));
        Assert.False(recorded.IsCompleted);
        Assert.Equal(1, attempts);

        await Eventually.HoldsAsync(
            () =>
            {
                time.Advance(TimeSpan.FromSeconds(1));
                return recorded.IsCompleted;
            },
            "the attempt times out and the retry after it succeeds",
            TimeSpan.FromSeconds(30));

        Assert.Equal(2, await recorded);
        Assert.True(firstAttemptCancelled);
    }

    [Fact]
    public async Task An_attempt_past_its_timeout_is_an_infrastructure_fault()
    {
        var time = new FakeTimeProvider();
        var attempt = PlatformRetry.WithinAttemptTimeoutAsync(ct => Task.Delay(Timeout.InfiniteTimeSpan, ct), time, CancellationToken.None);

        time.Advance(PlatformRetry.AttemptTimeout);

        var timeout = await Assert.ThrowsAsync<TimeoutException>(() => attempt);
        Assert.True(PlatformRetry.IsInfrastructureFault(timeout));
    }

    [Fact]
    public async Task A_stop_cancels_the_attempt_and_is_not_mistaken_for_a_timeout()
    {
        var time = new FakeTimeProvider();
        using var stop = new CancellationTokenSource();
        var attempt = PlatformRetry.UntilInfrastructureAnswersAsync(ct => Task.Delay(Timeout.InfiniteTimeSpan, ct), time, stop.Token, NullLogger.Instance);

        await stop.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => attempt);
    }
}
