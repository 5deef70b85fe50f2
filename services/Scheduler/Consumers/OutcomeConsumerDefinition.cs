using CrewPlatform.ServiceDefaults;
using MassTransit;

namespace CrewPlatform.Scheduler.Consumers;

/// <summary>
/// The endpoint shape of both outcome consumers (<see cref="CrewResponseStoredConsumer"/>,
/// <see cref="CrewCallFailedConsumer"/>): every outcome of a run updates the same runs row, so more concurrency would
/// only queue on its lock.
/// </summary>
public abstract class OutcomeConsumerDefinition<TConsumer> : EventConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer;
