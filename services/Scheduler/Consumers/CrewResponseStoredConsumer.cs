using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Runs;
using MassTransit;

namespace CrewPlatform.Scheduler.Consumers;

/// <summary>A stored crew answer: the user succeeded in its run.</summary>
public sealed class CrewResponseStoredConsumer(RunProgress progress) : IConsumer<CrewResponseStored>
{
    public async Task Consume(ConsumeContext<CrewResponseStored> context)
    {
        var message = context.Message;
        if (await progress.RecordOutcomeAsync(message.RunId, message.UserUid, succeeded: true, reason: null, context.CancellationToken) is { } completed)
        {
            await progress.PublishCompletedAsync(context, completed, context.CancellationToken);
        }
    }
}
