using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Runs;
using MassTransit;

namespace CrewPlatform.Scheduler.Consumers;

/// <summary>The crew caller gave up on a user: the user failed in its run, with the reason kept for operators.</summary>
public sealed class CrewCallFailedConsumer(RunProgress progress) : IConsumer<CrewCallFailed>
{
    public async Task Consume(ConsumeContext<CrewCallFailed> context)
    {
        var message = context.Message;
        if (await progress.RecordOutcomeAsync(message.RunId, message.UserUid, succeeded: false, message.Reason, context.CancellationToken) is { } completed)
        {
            await progress.PublishCompletedAsync(context, completed, context.CancellationToken);
        }
    }
}
