using CrewPlatform.Scheduler.Persistence;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CrewPlatform.Scheduler.Runs;

public enum RetryFailedOutcome
{
    RunNotFound,

    /// <summary>The run has not completed: its failures may still be joined by others, so retry once it has.</summary>
    RunStillRunning,

    /// <summary>The run's failed users (possibly none) were moved back to dispatched and their replays sent.</summary>
    Retried,
}

public sealed record RetryFailedResult(RetryFailedOutcome Outcome, int Retried = 0);

/// <summary>
/// An operator's replay of a completed (or cancelled) run's failed users, without the RabbitMQ UI: moves them back to dispatched
/// and reopens the run in one transaction, then sends each a command with <c>ReplayFailed</c>, so the crew caller
/// calls again. As their outcomes arrive the run completes, and announces it, again.
/// </summary>
public sealed partial class FailedUserRetry(
    NpgsqlDataSource dataSource,
    RunCrewCommands commands,
    IOptions<SchedulerOptions> options,
    TimeProvider time,
    ILogger<FailedUserRetry> logger)
{
    private readonly SchedulerOptions settings = options.Value;

    public async Task<RetryFailedResult> RetryAsync(Guid runId, CancellationToken cancellationToken)
    {
        var moved = new List<string>();
        await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            // Raw SQL: these three statements share one transaction on a data-source connection, in RunProgress's lock order.
            await using (var select = new NpgsqlCommand("SELECT status FROM scheduler.runs WHERE id = @runId", connection, transaction))
            {
                select.Parameters.Add(new NpgsqlParameter<Guid>("runId", runId));
                switch (await select.ExecuteScalarAsync(cancellationToken))
                {
                    case null:
                        return new RetryFailedResult(RetryFailedOutcome.RunNotFound);
                    case RunStatus.Running:
                        return new RetryFailedResult(RetryFailedOutcome.RunStillRunning);
                }
            }

            // run_users rows before the runs row, the order RunProgress.RecordOutcomesAsync locks them in, so the two cannot
            // deadlock; a concurrent retry of the same run waits on these rows and then finds none failed.
            // Raw SQL: UPDATE .. RETURNING the users it moved; EF's ExecuteUpdate returns only a count.
            await using (var move = new NpgsqlCommand(
                $"""
                UPDATE scheduler.run_users SET status = '{RunUserStatus.Dispatched}', replay_failed = true
                WHERE run_id = @runId AND status = '{RunUserStatus.Failed}'
                RETURNING user_uid
                """, connection, transaction))
            {
                move.Parameters.Add(new NpgsqlParameter<Guid>("runId", runId));
                await using var reader = await move.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    moved.Add(reader.GetString(0));
                }
            }

            if (moved.Count == 0)
            {
                return new RetryFailedResult(RetryFailedOutcome.Retried);
            }

            // Reopening counts as progress: the run is not stale, nor due for a re-send, the moment it reopens. A cancelled
            // run reopens like a completed one, its cancel cleared: the operator asked for these users to be called.
            // Raw SQL: in the same transaction and connection as the two statements before it.
            await using (var reopen = new NpgsqlCommand(
                $"""
                UPDATE scheduler.runs SET
                    failed = failed - @moved, status = '{RunStatus.Running}', completed_at = NULL, completion_published_at = NULL,
                    cancel_requested_at = NULL, last_progress_at = @now
                WHERE id = @runId
                """, connection, transaction))
            {
                reopen.Parameters.Add(new NpgsqlParameter<int>("moved", moved.Count));
                reopen.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", time.GetUtcNow()));
                reopen.Parameters.Add(new NpgsqlParameter<Guid>("runId", runId));
                await reopen.ExecuteNonQueryAsync(cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
        }

        LogRetrying(logger, runId, moved.Count);
        moved.Sort(StringComparer.Ordinal);
        try
        {
            foreach (var page in moved.Chunk(settings.PageSize))
            {
                await commands.SendAsync(runId, page.Select(uid => new DispatchedUser(uid, ReplayFailed: true)).ToList(), cancellationToken, firstSend: true);
            }
        }
        catch (Exception ex)
        {
            // The users are dispatched with replay_failed set: the reconciler sends their replays after its threshold.
            LogSendFailed(logger, ex, runId, settings.RedispatchAfterMinutes);
        }

        return new RetryFailedResult(RetryFailedOutcome.Retried, moved.Count);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId}: {Users} failed users moved back to dispatched for a replay")]
    private static partial void LogRetrying(ILogger logger, Guid runId, int users);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: sending the replays failed; the reconciler sends them again after {Minutes} min without outcome")]
    private static partial void LogSendFailed(ILogger logger, Exception exception, Guid runId, int minutes);
}
