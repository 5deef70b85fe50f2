using CrewPlatform.ServiceDefaults;
using MassTransit;

namespace CrewPlatform.CrewCaller.Consumers;

/// <summary>
/// The queue <c>crew-caller-crew-run-cancelled</c>: other services may consume the same event on queues of their own,
/// and a shared queue would split the events between them. Each cancel is one cheap statement, retried by the platform retry.
/// </summary>
public sealed class CrewRunCancelledConsumerDefinition : ConsumerDefinition<CrewRunCancelledConsumer>
{
    public const string QueuePrefix = "crew-caller-";

    public CrewRunCancelledConsumerDefinition() =>
        EndpointName = QueuePrefix + KebabCaseEndpointNameFormatter.Instance.Consumer<CrewRunCancelledConsumer>();

    protected override void ConfigureConsumer(
        IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<CrewRunCancelledConsumer> consumerConfigurator,
        IRegistrationContext context) =>
        endpointConfigurator.UsePlatformRetry();
}
