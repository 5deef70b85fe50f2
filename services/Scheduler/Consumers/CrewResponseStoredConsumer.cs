using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Runs;
using MassTransit;

namespace CrewPlatform.Scheduler.Consumers;

/// <summary>
/// Stored crew answers, a batch at a time: each user succeeded in its run, at the call's cost and duration, and with
/// when the answer was stored, which later runs that skip unchanged users measure its age by.
/// </summary>
public sealed class CrewResponseStoredConsumer(RunProgress progress) : IConsumer<Batch<CrewResponseStored>>
{
    public Task Consume(ConsumeContext<Batch<CrewResponseStored>> context) =>
        progress.RecordOutcomesAndPublishAsync(
            context, context.Message.Select(m => UserOutcome.Success(m.Message.RunId, m.Message.UserUid, m.Message.Cost, m.Message.DurationMs, m.Message.StoredAt)), context.CancellationToken);
}
