using System.Diagnostics;
using CrewPlatform.Contracts;
using CrewPlatform.ResponseStore.Changes;
using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.ServiceDefaults;
using MassTransit;
using MassTransit.Logging;

namespace CrewPlatform.ResponseStore.Consumers;

/// <summary>
/// Stores crew answers a batch at a time and tells the scheduler about every (run, user) of the batch: a stored
/// answer as <see cref="CrewResponseStored"/> (also when an earlier delivery already wrote it, so a crash between
/// insert and publish is healed by the redelivery), an answer that cannot be stored as <see cref="CrewCallFailed"/>,
/// so the run still completes. The event says whether the answer changed since the user's previous one on the same
/// endpoint, with a summary of the changes (<see cref="AnswerDiff"/>), and carries the answer when it is small enough.
/// </summary>
public sealed partial class CrewResponseReceivedConsumer(
    CrewResponseBatchWriter writer,
    TimeProvider clock,
    ResponseStoreMetrics metrics,
    ILogger<CrewResponseReceivedConsumer> logger) : IConsumer<Batch<CrewResponseReceived>>
{
    public const string UserNoLongerExists = "user no longer exists";

    public async Task Consume(ConsumeContext<Batch<CrewResponseReceived>> context)
    {
        // A redelivery can land in the same batch as the original: one row, one event per (run, user).
        var distinct = new Dictionary<(Guid RunId, string UserUid), ConsumeContext<CrewResponseReceived>>();
        foreach (var item in context.Message)
        {
            distinct.TryAdd((item.Message.RunId, item.Message.UserUid), item);
        }

        var items = distinct.Values.ToList();
        var spans = StartAnswerSpans(items);
        try
        {
            await StoreAsync(context, items, spans);
        }
        finally
        {
            spans.ForEach(span => span?.Dispose());
        }
    }

    /// <summary>
    /// One span per answer, each the child of its own message's send (a batch mixes users and runs), left open
    /// while the batch is written and the answer's outcome published.
    /// </summary>
    private static List<Activity?> StartAnswerSpans(List<ConsumeContext<CrewResponseReceived>> items)
    {
        var batch = Activity.Current;
        var spans = new List<Activity?>(items.Count);
        foreach (var item in items)
        {
            spans.Add(CrewTracing.ResponseStore.StartRunActivity(
                "store answer", item.Message.RunId, item.Message.UserUid, item.Headers.Get<string>(DiagnosticHeaders.ActivityId)));
            Activity.Current = batch;
        }

        return spans;
    }

    // Within the answer's span, so the outcome event continues the answer's trace.
    private static async Task PublishInSpanAsync(Activity? span, Func<Task> publish)
    {
        Activity.Current = span ?? Activity.Current;
        await publish();
    }

    private async Task StoreAsync(
        ConsumeContext<Batch<CrewResponseReceived>> context, List<ConsumeContext<CrewResponseReceived>> items, List<Activity?> spans)
    {
        var outcomes = await writer.StoreAsync(
            items.Select(i => new IncomingCrewResponse(i.Message.RunId, i.Message.UserUid, i.Message.RequestContext, i.Message.RequestGoal, i.Message.ResponseJson, i.Message.ScheduleId, i.Message.Endpoint, i.Message.Cost)).ToList(),
            context.CancellationToken);

        var inserted = 0;
        var publishes = new List<Task>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            var message = item.Message;
            switch (outcomes[i])
            {
                case StoreOutcome.Stored stored:
                    inserted += stored.Inserted ? 1 : 0;
                    publishes.Add(PublishInSpanAsync(spans[i], () => item.Publish(new CrewResponseStored
                    {
                        RunId = message.RunId,
                        UserUid = message.UserUid,
                        ResponseId = stored.ResponseId,
                        StoredAt = stored.StoredAt,
                        Cost = message.Cost,
                        DurationMs = message.DurationMs,
                        Endpoint = stored.Endpoint,
                        Changed = stored.Changed,
                        PreviousResponseId = stored.PreviousResponseId,
                        Changes = Summarize(stored, message),
                        Answer = stored.Answer,
                        AnswerBytes = stored.AnswerBytes,
                    }, context.CancellationToken)));
                    break;

                case StoreOutcome.UserMissing:
                    LogUserMissing(logger, message.RunId, message.UserUid);
                    publishes.Add(PublishInSpanAsync(spans[i], () => item.Publish(Failed(message, UserNoLongerExists), context.CancellationToken)));
                    break;

                case StoreOutcome.Unstorable unstorable:
                    LogUnstorable(logger, message.RunId, message.UserUid, unstorable.Reason);
                    publishes.Add(PublishInSpanAsync(spans[i], () => item.Publish(Failed(message, unstorable.Reason), context.CancellationToken)));
                    break;
            }
        }

        await Task.WhenAll(publishes);
        metrics.BatchStored(outcomes);
        LogBatchStored(logger, context.Message.Length, items.Count, inserted);
    }

    /// <summary>
    /// What changed since the previous answer, compared with the text the writer read back: the same for a row an
    /// earlier delivery stored, so a re-announced answer carries the summary it was first announced with.
    /// </summary>
    private static AnswerChangeSummary? Summarize(StoreOutcome.Stored stored, CrewResponseReceived message) =>
        stored is { Changed: true, PreviousAnswer: { } previous }
            ? AnswerDiff.Summarize(AnswerDiff.Compare(previous, stored.Answer ?? message.ResponseJson))
            : null;

    private CrewCallFailed Failed(CrewResponseReceived message, string reason) => new()
    {
        RunId = message.RunId,
        UserUid = message.UserUid,
        Reason = reason,
        StatusCode = null,
        Attempts = message.Attempts,
        FailedAt = clock.GetUtcNow(),
        Cost = message.Cost, // the crew answered, so the call was paid even though its answer is not kept
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Crew answer for run {RunId} not stored: user {UserUid} no longer exists")]
    private static partial void LogUserMissing(ILogger logger, Guid runId, string userUid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Crew answer for run {RunId} and user {UserUid} not stored: {Reason}")]
    private static partial void LogUnstorable(ILogger logger, Guid runId, string userUid, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stored crew answers: {Messages} messages, {Distinct} distinct (run, user), {Inserted} new rows")]
    private static partial void LogBatchStored(ILogger logger, int messages, int distinct, int inserted);
}
