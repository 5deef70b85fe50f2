using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.Persistence;
using MassTransit;

namespace CrewPlatform.CrewCaller.Consumers;

/// <summary>
/// Records a cancelled run in the ledger (<c>crew_caller.cancelled_runs</c>): from then on the claim refuses its users
/// (each announced as <see cref="CrewCallSkipped"/>, reason <c>cancelled</c>); calls already in flight finish.
/// </summary>
public sealed class CrewRunCancelledConsumer(CrewCallLedger ledger) : IConsumer<CrewRunCancelled>
{
    public Task Consume(ConsumeContext<CrewRunCancelled> context) =>
        ledger.CancelRunAsync(context.Message.RunId, context.Message.CancelledAt, context.CancellationToken);
}
