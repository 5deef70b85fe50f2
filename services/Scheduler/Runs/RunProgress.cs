using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.ServiceDefaults;
using MassTransit;
using Npgsql;
using NpgsqlTypes;

namespace CrewPlatform.Scheduler.Runs;

/// <summary>What recording a page did to its run.</summary>
public enum PageRecorded
{
    /// <summary>No such run: nothing was recorded.</summary>
    UnknownRun,

    /// <summary>The page was the one the fan-out expected (or beyond it): the cursor moved past it.</summary>
    Advanced,

    /// <summary>
    /// Another copy of this page (a redelivery, or the original of a re-driven page) had already moved the cursor on,
    /// so that copy carries the fan-out and this one must not start a second chain of pages.
    /// </summary>
    BehindCursor,
}

/// <summary>
/// A run's counters, kept exact under redelivery: every change goes through the (run, user) row in
/// <c>run_users</c>, and a counter moves only when that row is inserted or changes status. Raw SQL because each
/// step must be one atomic statement or one short transaction, and these are the hot paths of a run.
/// </summary>
public sealed partial class RunProgress(NpgsqlDataSource dataSource, TimeProvider time, SchedulerMetrics metrics, ILogger<RunProgress> logger)
{
    /// <summary>
    /// Records one page: inserts the (run, user) rows not yet there and adds exactly the inserted ones to
    /// <c>dispatched</c> and <c>skipped</c>, moves the fan-out cursor past this page when the page is not behind it,
    /// marks progress and, on the last page, the fan-out complete. One statement, so a redelivered page counts nothing
    /// twice.
    /// </summary>
    public async Task<PageRecorded> RecordPageAsync(
        Guid runId, int pageNumber, IReadOnlyList<HostUser> page, bool isLastPage, CancellationToken cancellationToken)
    {
        // The run row is locked first (FOR UPDATE returns its latest version), so of two copies of one page (a slow
        // page and its re-drive, or a redelivery) exactly one finds the cursor not yet past it and carries the fan-out on.
        // Raw SQL: lock, bulk insert (unnest .. ON CONFLICT DO NOTHING) and counter update in one statement.
        const string sql = """
            WITH run AS (
                SELECT id, next_page_number <= @pageNumber AS advances FROM scheduler.runs WHERE id = @runId FOR UPDATE
            ), inserted AS (
                INSERT INTO scheduler.run_users (run_id, user_uid, status)
                SELECT @runId, page.uid, page.status
                FROM unnest(@uids, @statuses) AS page(uid, status)
                WHERE EXISTS (SELECT 1 FROM run)
                ON CONFLICT (run_id, user_uid) DO NOTHING
                RETURNING status
            )
            UPDATE scheduler.runs r SET
                dispatched = r.dispatched + (SELECT count(*) FROM inserted WHERE status = 'dispatched'),
                skipped = r.skipped + (SELECT count(*) FROM inserted WHERE status = 'skipped'),
                fan_out_completed = r.fan_out_completed OR @isLastPage,
                fan_out_after_uid = CASE WHEN run.advances THEN coalesce(@lastUid, r.fan_out_after_uid) ELSE r.fan_out_after_uid END,
                next_page_number = CASE WHEN run.advances THEN @pageNumber + 1 ELSE r.next_page_number END,
                last_progress_at = @now
            FROM run
            WHERE r.id = run.id
            RETURNING run.advances
            """;
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<Guid>("runId", runId));
        command.Parameters.Add(new NpgsqlParameter<int>("pageNumber", pageNumber));
        command.Parameters.Add(new NpgsqlParameter<string[]>("uids", page.Select(u => u.Uid).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string[]>("statuses", page.Select(u => u.IsEligible ? RunUserStatus.Dispatched : RunUserStatus.Skipped).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<bool>("isLastPage", isLastPage));
        command.Parameters.Add(new NpgsqlParameter<string?>("lastUid", page.Count > 0 ? page[^1].Uid : null) { NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", time.GetUtcNow()));
        return await command.ExecuteScalarAsync(cancellationToken) switch
        {
            true => PageRecorded.Advanced,
            false => PageRecorded.BehindCursor,
            _ => PageRecorded.UnknownRun,
        };
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
        // Raw SQL: SELECT .. FOR UPDATE in the transaction the counters are updated in.
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

        // Raw SQL: two relative updates in one round trip inside the row-locking transaction.
        await using (var update = new NpgsqlCommand(
            """
            UPDATE scheduler.run_users SET status = @status, reason = @reason WHERE run_id = @runId AND user_uid = @userUid;
            UPDATE scheduler.runs SET
                succeeded = succeeded + @toSucceeded,
                failed = failed + @toFailed - @failedToSucceeded,
                last_progress_at = @now
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
            update.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", time.GetUtcNow()));
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
        // Raw SQL: a conditional UPDATE .. RETURNING the completed run; EF's ExecuteUpdate returns only a count.
        await using var command = new NpgsqlCommand(
            $"""
            UPDATE scheduler.runs SET status = 'completed', completed_at = @now
            WHERE id = @runId AND {Completable}
            RETURNING {CompletedColumns}
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", time.GetUtcNow()));
        command.Parameters.Add(new NpgsqlParameter<Guid>("runId", runId));
        var completed = await ReadCompletionsAsync(command, cancellationToken);
        return completed.Count == 1 ? completed[0] : null;
    }

    /// <summary>
    /// Completes every running run that is complete but was not completed (its last outcome's consumer died between
    /// recording and completing, or the run's users were all skipped and its last page was lost after recording).
    /// </summary>
    public async Task<IReadOnlyList<CrewRunCompleted>> CompleteReadyRunsAsync(CancellationToken cancellationToken)
    {
        // Raw SQL: a bulk UPDATE .. RETURNING the runs it completed; EF's ExecuteUpdate returns only a count.
        await using var command = dataSource.CreateCommand(
            $"""
            UPDATE scheduler.runs SET status = 'completed', completed_at = @now
            WHERE {Completable}
            RETURNING {CompletedColumns}
            """);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", time.GetUtcNow()));
        return await ReadCompletionsAsync(command, cancellationToken);
    }

    /// <summary>Completed runs whose <see cref="CrewRunCompleted"/> was not marked published, completed at or before <paramref name="completedBefore"/>.</summary>
    public async Task<IReadOnlyList<CrewRunCompleted>> UnpublishedCompletionsAsync(DateTimeOffset completedBefore, int limit, CancellationToken cancellationToken)
    {
        // Raw SQL: the same columns and reader as the completing UPDATE .. RETURNING statements.
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT {CompletedColumns} FROM scheduler.runs
            WHERE status = 'completed' AND completion_published_at IS NULL AND completed_at <= @completedBefore
            ORDER BY completed_at
            LIMIT @limit
            """);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("completedBefore", completedBefore));
        command.Parameters.Add(new NpgsqlParameter<int>("limit", limit));
        return await ReadCompletionsAsync(command, cancellationToken, log: false);
    }

    /// <summary>
    /// Publishes a completion, then marks it published. Should the process die in between, the reconciler publishes
    /// it again: at least once. The mark names this completion's time, so a late mark never covers a later
    /// completion of the same run (after <c>retry-failed</c>).
    /// </summary>
    public async Task PublishCompletedAsync(IPublishEndpoint publisher, CrewRunCompleted completed, CancellationToken cancellationToken)
    {
        using var activity = CrewTracing.Scheduler.StartRunActivity("run completed", completed.RunId);
        await publisher.Publish(completed, cancellationToken);
        // Raw SQL: run bookkeeping works on the data source without a DbContext; a conditional single-row UPDATE.
        await using var command = dataSource.CreateCommand(
            """
            UPDATE scheduler.runs SET completion_published_at = @now
            WHERE id = @runId AND status = 'completed' AND completed_at = @completedAt AND completion_published_at IS NULL
            """);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", time.GetUtcNow()));
        command.Parameters.Add(new NpgsqlParameter<Guid>("runId", completed.RunId));
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("completedAt", completed.CompletedAt));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private const string Completable = "status = 'running' AND fan_out_completed AND succeeded + failed = dispatched";
    private const string CompletedColumns = "id, dispatched, succeeded, failed, skipped, completed_at, started_at";

    // The event carries completed_at as stored (microseconds), so PublishCompletedAsync can match it exactly.
    private async Task<IReadOnlyList<CrewRunCompleted>> ReadCompletionsAsync(NpgsqlCommand command, CancellationToken cancellationToken, bool log = true)
    {
        var completions = new List<CrewRunCompleted>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var completed = new CrewRunCompleted
            {
                RunId = reader.GetGuid(0),
                Dispatched = reader.GetInt32(1),
                Succeeded = reader.GetInt32(2),
                Failed = reader.GetInt32(3),
                Skipped = reader.GetInt32(4),
                CompletedAt = reader.GetFieldValue<DateTimeOffset>(5),
            };
            if (log)
            {
                LogCompleted(logger, completed.RunId, completed.Dispatched, completed.Succeeded, completed.Failed, completed.Skipped);
                metrics.RunCompleted(completed, reader.GetFieldValue<DateTimeOffset>(6));
            }

            completions.Add(completed);
        }

        return completions;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outcome for run {RunId} user {UserUid} ignored: no such run or user in it")]
    private static partial void LogUnknownRunUser(ILogger logger, Guid runId, string userUid);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Outcome for run {RunId} user {UserUid} changes nothing: already {Status}")]
    private static partial void LogDuplicateOutcome(ILogger logger, Guid runId, string userUid, string status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} completed: {Dispatched} dispatched, {Succeeded} succeeded, {Failed} failed, {Skipped} skipped")]
    private static partial void LogCompleted(ILogger logger, Guid runId, int dispatched, int succeeded, int failed, int skipped);
}
