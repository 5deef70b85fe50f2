using CrewPlatform.ServiceDefaults;
using MassTransit;

namespace CrewPlatform.Scheduler.Consumers;

/// <summary>
/// The endpoint shape of both outcome consumers (<see cref="CrewResponseStoredConsumer"/>,
/// <see cref="CrewCallFailedConsumer"/>): every outcome of a run updates the same runs row, so more concurrency would
/// only queue on its lock; the platform retry.
/// </summary>
public abstract class OutcomeConsumerDefinition<TConsumer> : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    protected OutcomeConsumerDefinition()
    {
        ConcurrentMessageLimit = 8;
        Endpoint(e => e.PrefetchCount = 16);
    }

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<TConsumer> consumerConfigurator,
        IRegistrationContext context) =>
        endpointConfigurator.UsePlatformRetry();
}
