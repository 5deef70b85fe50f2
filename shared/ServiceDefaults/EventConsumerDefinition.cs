using MassTransit;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// The endpoint shape of a consumer of platform events whose work is one short database statement or transaction:
/// 8 at once (more would only queue on PostgreSQL), a prefetch of twice that, and the platform retry.
/// </summary>
public abstract class EventConsumerDefinition<TConsumer> : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    protected EventConsumerDefinition()
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
