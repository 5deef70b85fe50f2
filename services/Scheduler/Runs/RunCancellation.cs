using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.ServiceDefaults;
using MassTransit;
using Npgsql;

namespace CrewPlatform.Scheduler.Runs;

public enum CancelOutcome
{
    RunNotFound,

    /// <summary>The run is not running (completed, cancelled, skipped): there is nothing left to cancel.</summary>
    AlreadyFinished,

    /// <summary>The cancel is recorded (now, or by an earlier cancel, which it keeps) and announced.</summary>
    Cancelling,
}

/// <summary>
/// An operator's cancel of a running run: <c>cancel_requested_at</c> is set (kept from a first cancel), so the fan-out's
/// next pages record their users as cancelled and the run ends <c>cancelled</c>; <see cref="CrewRunCancelled"/> tells
/// the crew caller to call none of its users from now on. The reconciler announces it again while the run runs.
/// </summary>
public sealed partial class RunCancellation(
    NpgsqlDataSource dataSource, IRequestClient<CrewRunCancelled> crewCaller, TimeProvider time, ILogger<RunCancellation> logger)
{
    /// <summary>How long the cancel API waits for the crew caller to record the cancel before it answers all the same.</summary>
    public static readonly TimeSpan RecordedWithin = TimeSpan.FromSeconds(10);

    public async Task<CancelOutcome> CancelAsync(Guid runId, CancellationToken cancellationToken)
    {
        // Raw SQL: a conditional UPDATE .. RETURNING, then (when it matched nothing) whether the run exists at all.
        await using var command = dataSource.CreateCommand(
            $"""
            UPDATE scheduler.runs SET cancel_requested_at = coalesce(cancel_requested_at, @now)
            WHERE id = @runId AND status = '{RunStatus.Running}'
            RETURNING cancel_requested_at;

            SELECT EXISTS (SELECT 1 FROM scheduler.runs WHERE id = @runId);
            """);
        command.Parameters.Add(new NpgsqlParameter<Guid>("runId", runId));
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", time.GetUtcNow()));
        DateTimeOffset? cancelledAt = null;
        bool exists;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                cancelledAt = reader.GetFieldValue<DateTimeOffset>(0);
            }

            await reader.NextResultAsync(cancellationToken);
            exists = await reader.ReadAsync(cancellationToken) && reader.GetBoolean(0);
        }

        if (cancelledAt is not { } at)
        {
            return exists ? CancelOutcome.AlreadyFinished : CancelOutcome.RunNotFound;
        }

        LogCancelled(logger, runId);
        await AskCrewCallerAsync(new CrewRunCancelled { RunId = runId, CancelledAt = at }, cancellationToken);
        return CancelOutcome.Cancelling;
    }

    /// <summary>
    /// Sends the cancel as a request and waits until the crew caller has recorded it, so that once the API answers no
    /// call of the run starts any more. Should it not answer in time (the broker or the crew caller away), the cancel
    /// is recorded here all the same and the reconciler announces it again on every pass.
    /// </summary>
    private async Task AskCrewCallerAsync(CrewRunCancelled cancelled, CancellationToken cancellationToken)
    {
        try
        {
            await crewCaller.GetResponse<CrewRunCancelRecorded>(cancelled, cancellationToken, RequestTimeout.After(s: (int)RecordedWithin.TotalSeconds));
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            LogNotAnnounced(logger, ex, cancelled.RunId);
        }
    }

    /// <summary>Announces a cancel, best effort: the reconciler announces it again on its next pass while the run runs.</summary>
    public async Task PublishAsync(IPublishEndpoint publisher, CrewRunCancelled cancelled, CancellationToken cancellationToken)
    {
        try
        {
            await PlatformRetry.WithinAttemptTimeoutAsync(ct => publisher.Publish(cancelled, ct), time, cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            LogNotAnnounced(logger, ex, cancelled.RunId);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: cancel requested; users not yet called are recorded as cancelled")]
    private static partial void LogCancelled(ILogger logger, Guid runId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: the crew caller has not confirmed the cancel yet; the reconciler announces it on its every pass while the run runs")]
    private static partial void LogNotAnnounced(ILogger logger, Exception exception, Guid runId);
}
