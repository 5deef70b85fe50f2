namespace CrewPlatform.Scheduler.Consumers;

public sealed class CrewCallSkippedConsumerDefinition : OutcomeConsumerDefinition<CrewCallSkippedConsumer>;
