using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using Npgsql;
using NpgsqlTypes;

namespace CrewPlatform.Scheduler.Runs;

/// <summary>
/// A run's counters, kept exact under redelivery: every change goes through the (run, user) row in
/// <c>run_users</c>, and a counter moves only when that row is inserted or changes status. Raw SQL because each
/// step must be one atomic statement or one short transaction, and these are the hot paths of a run.
/// </summary>
public sealed partial class RunProgress(NpgsqlDataSource dataSource, TimeProvider time, ILogger<RunProgress> logger)
{
    /// <summary>
    /// Records one page: inserts the (run, user) rows not yet there and adds exactly the inserted ones to
    /// <c>dispatched</c> and <c>skipped</c>; on the last page also marks the fan-out complete. One statement, so a
    /// redelivered page counts nothing twice. Returns false when the run is unknown.
    /// </summary>
    public async Task<bool> RecordPageAsync(
        Guid runId, IReadOnlyList<HostUser> page, bool isLastPage, CancellationToken cancellationToken)
    {
        const string sql = """
            WITH inserted AS (
                INSERT INTO scheduler.run_users (run_id, user_uid, status)
                SELECT @runId, page.uid, page.status
                FROM unnest(@uids, @statuses) AS page(uid, status)
                WHERE EXISTS (SELECT 1 FROM scheduler.runs WHERE id = @runId)
                ON CONFLICT (run_id, user_uid) DO NOTHING
                RETURNING status
            )
            UPDATE scheduler.runs SET
                dispatched = dispatched + (SELECT count(*) FROM inserted WHERE status = 'dispatched'),
                skipped = skipped + (SELECT count(*) FROM inserted WHERE status = 'skipped'),
                fan_out_completed = fan_out_completed OR @isLastPage
            WHERE id = @runId
            """;
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<Guid>("runId", runId));
        command.Parameters.Add(new NpgsqlParameter<string[]>("uids", page.Select(u => u.Uid).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string[]>("statuses", page.Select(u => u.IsEligible ? RunUserStatus.Dispatched : RunUserStatus.Skipped).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<bool>("isLastPage", isLastPage));
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>
    /// Records one user's outcome. Succeeded beats dispatched and failed (an operator's replay of a failed call can
    /// still succeed: the user moves from failed to succeeded); failed beats only dispatched. Anything else is a
    /// duplicate and changes nothing. Returns the completion event when this outcome completed the run.
    /// </summary>
    public async Task<CrewRunCompleted?> RecordOutcomeAsync(
        Guid runId, string userUid, bool succeeded, string? reason, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        string? previous;
        await using (var select = new NpgsqlCommand(
            "SELECT status FROM scheduler.run_users WHERE run_id = @runId AND user_uid = @userUid FOR UPDATE", connection, transaction))
        {
            select.Parameters.Add(new NpgsqlParameter<Guid>("runId", runId));
            select.Parameters.Add(new NpgsqlParameter<string>("userUid", userUid));
            previous = await select.ExecuteScalarAsync(cancellationToken) as string;
        }

        if (previous is null)
        {
            LogUnknownRunUser(logger, runId, userUid);
            return null;
        }

        var (newStatus, dispatchedToSucceeded, failedToSucceeded, dispatchedToFailed) = (succeeded, previous) switch
        {
            (true, RunUserStatus.Dispatched) => (RunUserStatus.Succeeded, 1, 0, 0),
            (true, RunUserStatus.Failed) => (RunUserStatus.Succeeded, 0, 1, 0),
            (false, RunUserStatus.Dispatched) => (RunUserStatus.Failed, 0, 0, 1),
            _ => (null, 0, 0, 0),
        };
        if (newStatus is null)
        {
            LogDuplicateOutcome(logger, runId, userUid, previous);
            return null;
        }

        await using (var update = new NpgsqlCommand(
            """
            UPDATE scheduler.run_users SET status = @status, reason = @reason WHERE run_id = @runId AND user_uid = @userUid;
            UPDATE scheduler.runs SET
                succeeded = succeeded + @toSucceeded,
                failed = failed + @toFailed - @failedToSucceeded
            WHERE id = @runId;
            """, connection, transaction))
        {
            update.Parameters.Add(new NpgsqlParameter<string>("status", newStatus));
            update.Parameters.Add(new NpgsqlParameter<string?>("reason", succeeded ? null : reason) { NpgsqlDbType = NpgsqlDbType.Text });
            update.Parameters.Add(new NpgsqlParameter<Guid>("runId", runId));
            update.Parameters.Add(new NpgsqlParameter<string>("userUid", userUid));
            update.Parameters.Add(new NpgsqlParameter<int>("toSucceeded", dispatchedToSucceeded + failedToSucceeded));
            update.Parameters.Add(new NpgsqlParameter<int>("toFailed", dispatchedToFailed));
            update.Parameters.Add(new NpgsqlParameter<int>("failedToSucceeded", failedToSucceeded));
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        var completed = await TryCompleteAsync(connection, transaction, runId, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return completed;
    }

    /// <summary>Completes the run if its fan-out is done and every dispatched user has an outcome.</summary>
    public async Task<CrewRunCompleted?> TryCompleteAsync(Guid runId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await TryCompleteAsync(connection, null, runId, cancellationToken);
    }

    // Conditional on status = 'running', so of the consumers racing to the last outcome exactly one completes the run.
    private async Task<CrewRunCompleted?> TryCompleteAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid runId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var command = new NpgsqlCommand(
            """
            UPDATE scheduler.runs SET status = 'completed', completed_at = @now
            WHERE id = @runId AND status = 'running' AND fan_out_completed AND succeeded + failed = dispatched
            RETURNING dispatched, succeeded, failed, skipped
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", now));
        command.Parameters.Add(new NpgsqlParameter<Guid>("runId", runId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var completed = new CrewRunCompleted
        {
            RunId = runId,
            Dispatched = reader.GetInt32(0),
            Succeeded = reader.GetInt32(1),
            Failed = reader.GetInt32(2),
            Skipped = reader.GetInt32(3),
            CompletedAt = now,
        };
        LogCompleted(logger, runId, completed.Dispatched, completed.Succeeded, completed.Failed, completed.Skipped);
        return completed;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outcome for run {RunId} user {UserUid} ignored: no such run or user in it")]
    private static partial void LogUnknownRunUser(ILogger logger, Guid runId, string userUid);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Outcome for run {RunId} user {UserUid} changes nothing: already {Status}")]
    private static partial void LogDuplicateOutcome(ILogger logger, Guid runId, string userUid, string status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} completed: {Dispatched} dispatched, {Succeeded} succeeded, {Failed} failed, {Skipped} skipped")]
    private static partial void LogCompleted(ILogger logger, Guid runId, int dispatched, int succeeded, int failed, int skipped);
}
