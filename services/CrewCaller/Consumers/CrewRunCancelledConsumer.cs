using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.Persistence;
using MassTransit;

namespace CrewPlatform.CrewCaller.Consumers;

/// <summary>
/// Records a cancelled run in the ledger (<c>crew_caller.cancelled_runs</c>): from then on the claim refuses its users
/// (each announced as <see cref="CrewCallSkipped"/>, reason <c>cancelled</c>); calls already in flight finish. The
/// cancel API asks with a request and waits for <see cref="CrewRunCancelRecorded"/>, so its 202 means no call of the
/// run starts any more; the reconciler's re-announcements are plain events and get no answer.
/// </summary>
public sealed class CrewRunCancelledConsumer(CrewCallLedger ledger) : IConsumer<CrewRunCancelled>
{
    public async Task Consume(ConsumeContext<CrewRunCancelled> context)
    {
        await ledger.CancelRunAsync(context.Message.RunId, context.Message.CancelledAt, context.CancellationToken);
        if (context.ResponseAddress is not null)
        {
            await context.RespondAsync(new CrewRunCancelRecorded { RunId = context.Message.RunId });
        }
    }
}
