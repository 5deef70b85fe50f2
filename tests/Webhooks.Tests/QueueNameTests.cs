using CrewPlatform.Webhooks.Consumers;
using MassTransit;

namespace CrewPlatform.Webhooks.Tests;

/// <summary>
/// The webhooks consume events other services consume too: on a queue of the same name (the Scheduler's
/// <c>crew-response-stored</c>) the two would split the events, and the Scheduler would miss outcomes.
/// </summary>
public sealed class QueueNameTests
{
    [Fact]
    public void Every_webhooks_queue_has_its_own_prefix()
    {
        IConsumerDefinition[] definitions =
        [
            new CrewResponseStoredConsumerDefinition(), new CrewRunCompletedConsumerDefinition(),
            new CrewRunSkippedConsumerDefinition(), new CrewApiAvailabilityChangedConsumerDefinition(),
        ];

        Assert.Equal(
            ["webhooks-crew-api-availability-changed", "webhooks-crew-response-stored", "webhooks-crew-run-completed", "webhooks-crew-run-skipped"],
            definitions.Select(d => d.GetEndpointName(KebabCaseEndpointNameFormatter.Instance)).Order(StringComparer.Ordinal));
    }
}
