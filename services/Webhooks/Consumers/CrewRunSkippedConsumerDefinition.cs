namespace CrewPlatform.Webhooks.Consumers;

public sealed class CrewRunSkippedConsumerDefinition : WebhookEventConsumerDefinition<CrewRunSkippedConsumer>;
