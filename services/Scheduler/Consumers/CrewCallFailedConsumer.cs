using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Runs;
using MassTransit;

namespace CrewPlatform.Scheduler.Consumers;

/// <summary>Users the crew caller gave up on, a batch at a time: each failed in its run, with the reason kept for operators and what the attempts cost.</summary>
public sealed class CrewCallFailedConsumer(RunProgress progress) : IConsumer<Batch<CrewCallFailed>>
{
    public Task Consume(ConsumeContext<Batch<CrewCallFailed>> context) =>
        progress.RecordOutcomesAndPublishAsync(
            context, context.Message.Select(m => UserOutcome.Failure(m.Message.RunId, m.Message.UserUid, m.Message.Reason, m.Message.Cost)), context.CancellationToken);
}
