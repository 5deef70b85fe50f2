using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Runs;
using MassTransit;

namespace CrewPlatform.Scheduler.Consumers;

/// <summary>Users the crew caller did not call, a batch at a time: each skipped for its run's budget, or cancelled.</summary>
public sealed class CrewCallSkippedConsumer(RunProgress progress) : IConsumer<Batch<CrewCallSkipped>>
{
    public Task Consume(ConsumeContext<Batch<CrewCallSkipped>> context) =>
        progress.RecordOutcomesAndPublishAsync(
            context, context.Message.Select(m => UserOutcome.NotCalled(m.Message.RunId, m.Message.UserUid, m.Message.Reason)), context.CancellationToken);
}
