using CrewPlatform.CrewCaller.Consumers;

namespace CrewPlatform.CrewCaller.Tests.Harness;

/// <summary>A crew queue's prefetch keeps the next users ready for every slot, without hoarding the queue.</summary>
public sealed class PrefetchTests
{
    [Theory]
    [InlineData(1, 3)]
    [InlineData(8, 10)]
    [InlineData(32, 40)]
    [InlineData(1_000, 1_250)]
    public void A_queue_prefetches_its_concurrency_and_a_quarter_more_at_least_two(int concurrency, int prefetch) =>
        Assert.Equal(prefetch, RunCrewForUserConsumerDefinition.PrefetchFor(concurrency));
}
