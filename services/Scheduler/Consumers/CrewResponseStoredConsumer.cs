using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Runs;
using CrewPlatform.ServiceDefaults;
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

public sealed class CrewResponseStoredConsumerDefinition : ConsumerDefinition<CrewResponseStoredConsumer>
{
    public CrewResponseStoredConsumerDefinition()
    {
        // Every outcome of a run updates the same runs row; more concurrency would only queue on its lock.
        ConcurrentMessageLimit = 8;
        Endpoint(e => e.PrefetchCount = 16);
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<CrewResponseStoredConsumer> consumerConfigurator,
        IRegistrationContext context) =>
        endpointConfigurator.UsePlatformRetry();
}
