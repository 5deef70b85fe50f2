namespace CrewPlatform.Scheduler.Consumers;

public sealed class CrewCallFailedConsumerDefinition : OutcomeConsumerDefinition<CrewCallFailedConsumer>;
