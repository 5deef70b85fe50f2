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

/// <summary>A user's outcome in a run: succeeded, or failed with the reason kept for operators.</summary>
public sealed record UserOutcome(Guid RunId, string UserUid, bool Succeeded, string? Reason)
{
    public static UserOutcome Success(Guid runId, string userUid) => new(runId, userUid, Succeeded: true, Reason: null);

    public static UserOutcome Failure(Guid runId, string userUid, string reason) => new(runId, userUid, Succeeded: false, reason);
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
        const string sql = $"""
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
                dispatched = r.dispatched + (SELECT count(*) FROM inserted WHERE status = '{RunUserStatus.Dispatched}'),
                skipped = r.skipped + (SELECT count(*) FROM inserted WHERE status = '{RunUserStatus.Skipped}'),
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
    /// Records a batch of outcomes in one round trip. Succeeded beats dispatched and failed (an operator's replay of a
    /// failed call can still succeed: the user moves from failed to succeeded); failed beats only dispatched. Anything
    /// else is a duplicate and changes nothing; so is a second outcome of the same (run, user) within the batch, which
    /// counts once as the better of the two. Each affected run's counters move once, and the runs the batch completed
    /// are completed and returned.
    /// </summary>
    public async Task<IReadOnlyList<CrewRunCompleted>> RecordOutcomesAsync(IEnumerable<UserOutcome> outcomes, CancellationToken cancellationToken)
    {
        var batch = OnePerUser(outcomes);
        if (batch.Count == 0)
        {
            return [];
        }

        // Raw SQL, two statements sent together and run as one implicit transaction: the first locks the batch's
        // run_users rows and then its runs rows, each in key order (so concurrent batches, on one Scheduler or two,
        // and FailedUserRetry, which also locks run_users before runs, cannot deadlock), moves the users and each
        // run's counters once, and returns the outcomes that changed nothing; the second sees those counters and
        // completes the batch's runs that are complete (a run whose completion was missed earlier too, as the
        // reconciler would).
        await using var command = dataSource.CreateCommand(
            $"""
            WITH outcome AS (
                SELECT * FROM unnest(@runIds, @userUids, @succeeded, @reasons) AS o(run_id, user_uid, succeeded, reason)
            ), locked AS MATERIALIZED (
                SELECT ru.run_id, ru.user_uid, ru.status AS previous, o.succeeded, o.reason,
                    ru.status = '{RunUserStatus.Dispatched}' OR (o.succeeded AND ru.status = '{RunUserStatus.Failed}') AS moves
                FROM scheduler.run_users ru
                JOIN outcome o ON o.run_id = ru.run_id AND o.user_uid = ru.user_uid
                ORDER BY ru.run_id, ru.user_uid
                FOR UPDATE OF ru
            ), moved AS (
                UPDATE scheduler.run_users ru SET
                    status = CASE WHEN l.succeeded THEN '{RunUserStatus.Succeeded}' ELSE '{RunUserStatus.Failed}' END,
                    reason = CASE WHEN l.succeeded THEN NULL ELSE l.reason END
                FROM locked l
                WHERE l.moves AND ru.run_id = l.run_id AND ru.user_uid = l.user_uid
                RETURNING l.run_id, l.previous, l.succeeded
            ), counted AS (
                SELECT run_id,
                    count(*) FILTER (WHERE succeeded) AS to_succeeded,
                    count(*) FILTER (WHERE NOT succeeded) AS to_failed,
                    count(*) FILTER (WHERE succeeded AND previous = '{RunUserStatus.Failed}') AS failed_to_succeeded
                FROM moved
                GROUP BY run_id
            ), locked_runs AS MATERIALIZED (
                SELECT id FROM scheduler.runs WHERE id IN (SELECT run_id FROM counted) ORDER BY id FOR UPDATE
            ), counters AS (
                UPDATE scheduler.runs r SET
                    succeeded = r.succeeded + c.to_succeeded,
                    failed = r.failed + c.to_failed - c.failed_to_succeeded,
                    last_progress_at = @now
                FROM counted c
                JOIN locked_runs lr ON lr.id = c.run_id
                WHERE r.id = c.run_id
            )
            SELECT o.run_id, o.user_uid, l.previous
            FROM outcome o
            LEFT JOIN locked l ON l.run_id = o.run_id AND l.user_uid = o.user_uid
            WHERE l.moves IS NOT TRUE;

            {CompleteRunsSql}
            """);
        command.Parameters.Add(new NpgsqlParameter<Guid[]>("runIds", batch.Select(o => o.RunId).ToArray()));
        command.Parameters.Add(new NpgsqlParameter<string[]>("userUids", batch.Select(o => o.UserUid).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<bool[]>("succeeded", batch.Select(o => o.Succeeded).ToArray()));
        command.Parameters.Add(new NpgsqlParameter<string?[]>("reasons", batch.Select(o => o.Succeeded ? null : o.Reason).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", time.GetUtcNow()));

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var (runId, userUid) = (reader.GetGuid(0), reader.GetString(1));
            if (reader.IsDBNull(2))
            {
                LogUnknownRunUser(logger, runId, userUid);
            }
            else
            {
                LogDuplicateOutcome(logger, runId, userUid, reader.GetString(2));
            }
        }

        await reader.NextResultAsync(cancellationToken);
        return await ReadCompletionsAsync(reader, cancellationToken);
    }

    /// <summary>Records a batch of outcomes, then publishes each completion it made.</summary>
    public async Task RecordOutcomesAndPublishAsync(IPublishEndpoint publisher, IEnumerable<UserOutcome> outcomes, CancellationToken cancellationToken)
    {
        foreach (var completed in await RecordOutcomesAsync(outcomes, cancellationToken))
        {
            await PublishCompletedAsync(publisher, completed, cancellationToken);
        }
    }

    /// <summary>One outcome per (run, user): a success wins, else the first failure's reason is kept.</summary>
    private static List<UserOutcome> OnePerUser(IEnumerable<UserOutcome> outcomes)
    {
        var distinct = new Dictionary<(Guid RunId, string UserUid), UserOutcome>();
        foreach (var outcome in outcomes)
        {
            var key = (outcome.RunId, outcome.UserUid);
            if (!distinct.TryGetValue(key, out var seen) || (outcome.Succeeded && !seen.Succeeded))
            {
                distinct[key] = outcome;
            }
        }

        return [.. distinct.Values];
    }

    /// <summary>Completes the run if its fan-out is done and every dispatched user has an outcome.</summary>
    public async Task<CrewRunCompleted?> TryCompleteAsync(Guid runId, CancellationToken cancellationToken)
    {
        // Raw SQL: a conditional UPDATE .. RETURNING the completed run; EF's ExecuteUpdate returns only a count.
        await using var command = dataSource.CreateCommand(CompleteRunsSql);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", time.GetUtcNow()));
        command.Parameters.Add(new NpgsqlParameter<Guid[]>("runIds", [runId]));
        var completed = await ReadCompletionsAsync(command, cancellationToken);
        return completed.Count == 1 ? completed[0] : null;
    }

    // Conditional on status = 'running', so of the consumers racing to the last outcome exactly one completes the run.
    private const string CompleteRunsSql = $"""
        UPDATE scheduler.runs SET status = '{RunStatus.Completed}', completed_at = @now
        WHERE id = ANY(@runIds) AND {Completable}
        RETURNING {CompletedColumns}
        """;

    /// <summary>
    /// Completes every running run that is complete but was not completed (its last outcome's consumer died between
    /// recording and completing, or the run's users were all skipped and its last page was lost after recording).
    /// </summary>
    public async Task<IReadOnlyList<CrewRunCompleted>> CompleteReadyRunsAsync(CancellationToken cancellationToken)
    {
        // Raw SQL: a bulk UPDATE .. RETURNING the runs it completed; EF's ExecuteUpdate returns only a count.
        await using var command = dataSource.CreateCommand(
            $"""
            UPDATE scheduler.runs SET status = '{RunStatus.Completed}', completed_at = @now
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
            WHERE status = '{RunStatus.Completed}' AND completion_published_at IS NULL AND completed_at <= @completedBefore
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
        await PlatformRetry.WithinAttemptTimeoutAsync(ct => publisher.Publish(completed, ct), time, cancellationToken);
        // Raw SQL: run bookkeeping works on the data source without a DbContext; a conditional single-row UPDATE.
        await using var command = dataSource.CreateCommand(
            $"""
            UPDATE scheduler.runs SET completion_published_at = @now
            WHERE id = @runId AND status = '{RunStatus.Completed}' AND completed_at = @completedAt AND completion_published_at IS NULL
            """);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", time.GetUtcNow()));
        command.Parameters.Add(new NpgsqlParameter<Guid>("runId", completed.RunId));
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("completedAt", completed.CompletedAt));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private const string Completable = $"status = '{RunStatus.Running}' AND fan_out_completed AND succeeded + failed = dispatched";
    private const string CompletedColumns = "id, dispatched, succeeded, failed, skipped, completed_at, segment, started_at";

    // The event carries completed_at as stored (microseconds), so PublishCompletedAsync can match it exactly.
    private async Task<IReadOnlyList<CrewRunCompleted>> ReadCompletionsAsync(NpgsqlCommand command, CancellationToken cancellationToken, bool log = true)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await ReadCompletionsAsync(reader, cancellationToken, log);
    }

    private async Task<IReadOnlyList<CrewRunCompleted>> ReadCompletionsAsync(NpgsqlDataReader reader, CancellationToken cancellationToken, bool log = true)
    {
        var completions = new List<CrewRunCompleted>();
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
                Segment = reader.IsDBNull(6) ? null : reader.GetString(6),
            };
            if (log)
            {
                LogCompleted(logger, completed.RunId, completed.Dispatched, completed.Succeeded, completed.Failed, completed.Skipped);
                metrics.RunCompleted(completed, reader.GetFieldValue<DateTimeOffset>(7));
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
