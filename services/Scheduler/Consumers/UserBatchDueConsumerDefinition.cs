using CrewPlatform.ServiceDefaults;
using MassTransit;

namespace CrewPlatform.Scheduler.Consumers;

public sealed class UserBatchDueConsumerDefinition : ConsumerDefinition<UserBatchDueConsumer>
{
    public UserBatchDueConsumerDefinition()
    {
        // Pages of one run follow each other; a few in flight lets concurrent runs progress side by side
        // while keeping at most a few pages of users in memory.
        ConcurrentMessageLimit = 4;
        Endpoint(e => e.PrefetchCount = 8);
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<UserBatchDueConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        endpointConfigurator.UsePlatformRetry();
    }
}
