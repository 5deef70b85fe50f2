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
/// A user's outcome in a run: succeeded or failed (with what the call cost and, for a stored answer, how long it took),
/// or not called at all: skipped for the run's budget, or cancelled.
/// </summary>
public sealed record UserOutcome(
    Guid RunId, string UserUid, string Status, string? Reason, decimal? Cost = null, long? DurationMs = null, DateTimeOffset? StoredAt = null)
{
    public bool Succeeded => Status == RunUserStatus.Succeeded;

    /// <summary>A stored answer; <paramref name="storedAt"/> (when it was stored) is what a later run's skipUnchanged measures its age by.</summary>
    public static UserOutcome Success(Guid runId, string userUid, decimal? cost = null, long? durationMs = null, DateTimeOffset? storedAt = null) =>
        new(runId, userUid, RunUserStatus.Succeeded, Reason: null, cost, durationMs, storedAt);

    public static UserOutcome Failure(Guid runId, string userUid, string reason, decimal? cost = null) =>
        new(runId, userUid, RunUserStatus.Failed, reason, cost);

    /// <summary>The crew caller did not call: <see cref="CrewCallSkipped.CancelledReason"/> is cancelled, any other reason (budget) skipped.</summary>
    public static UserOutcome NotCalled(Guid runId, string userUid, string reason) => reason == CrewCallSkipped.CancelledReason
        ? new(runId, userUid, RunUserStatus.Cancelled, Reason: null)
        : new(runId, userUid, RunUserStatus.Skipped, reason);
}

/// <summary>
/// What recording a page did; whether its eligible users are to be sent (not when the run is cancelled or out of
/// budget); the run's commands, with its budget as its row holds it (null for an unknown run); and the page's users
/// recorded as unchanged (by this copy of the page or an earlier one), who are not sent.
/// </summary>
public sealed record PageResult(PageRecorded Recorded, bool SendsCommands, RunCommands? Commands, IReadOnlySet<string>? Unchanged = null);

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
    /// twice. The eligible users of a run with a cancel requested are recorded as cancelled, those of a run whose budget
    /// ran out as skipped (reason <c>budget</c>): the page then sends nothing. A run that skips unchanged users records
    /// those whose latest answer came from the same input recently enough as <c>unchanged</c>
    /// (<see cref="UnchangedUsers.PageSql"/>); every user to be sent gets the digest of the input their command carries.
    /// </summary>
    public async Task<PageResult> RecordPageAsync(
        Guid runId, int pageNumber, IReadOnlyList<HostUser> page, bool isLastPage, CancellationToken cancellationToken)
    {
        // The run row is locked first (FOR UPDATE returns its latest version), so of two copies of one page (a slow
        // page and its re-drive, or a redelivery) exactly one finds the cursor not yet past it and carries the fan-out on.
        // Raw SQL: lock, bulk insert (unnest .. ON CONFLICT DO NOTHING) and counter update in one statement.
        var sql = $"""
            WITH run AS (
                SELECT id, endpoint, skip_unchanged_for_minutes, next_page_number <= @pageNumber AS advances,
                    CASE WHEN cancel_requested_at IS NOT NULL THEN '{RunUserStatus.Cancelled}'
                         WHEN budget_exhausted THEN '{RunUserStatus.Skipped}' END AS halted_as
                FROM scheduler.runs WHERE id = @runId FOR UPDATE
            ), target AS (
                SELECT endpoint, skip_unchanged_for_minutes AS fresh_for_minutes FROM run
            ), {UnchangedUsers.PageSql}, inserted AS (
                INSERT INTO scheduler.run_users (run_id, user_uid, status, reason, endpoint, input_digest)
                SELECT @runId, page.uid,
                    CASE WHEN page.status <> '{RunUserStatus.Dispatched}' THEN page.status
                         WHEN page.unchanged THEN '{RunUserStatus.Unchanged}'
                         ELSE coalesce(run.halted_as, page.status) END,
                    CASE WHEN page.status = '{RunUserStatus.Dispatched}' AND NOT page.unchanged AND run.halted_as = '{RunUserStatus.Skipped}' THEN '{CrewCallSkipped.BudgetReason}' END,
                    run.endpoint, CASE WHEN page.unchanged OR run.halted_as IS NULL THEN page.digest END
                FROM page
                CROSS JOIN run
                ON CONFLICT (run_id, user_uid) DO NOTHING
                RETURNING user_uid, status
            )
            UPDATE scheduler.runs r SET
                dispatched = r.dispatched + (SELECT count(*) FROM inserted WHERE status = '{RunUserStatus.Dispatched}'),
                skipped = r.skipped + (SELECT count(*) FROM inserted WHERE status = '{RunUserStatus.Skipped}'),
                cancelled = r.cancelled + (SELECT count(*) FROM inserted WHERE status = '{RunUserStatus.Cancelled}'),
                unchanged = r.unchanged + (SELECT count(*) FROM inserted WHERE status = '{RunUserStatus.Unchanged}'),
                fan_out_completed = r.fan_out_completed OR @isLastPage,
                fan_out_after_uid = CASE WHEN run.advances THEN coalesce(@lastUid, r.fan_out_after_uid) ELSE r.fan_out_after_uid END,
                next_page_number = CASE WHEN run.advances THEN @pageNumber + 1 ELSE r.next_page_number END,
                last_progress_at = @now
            FROM run
            WHERE r.id = run.id
            RETURNING run.advances, run.halted_as IS NULL, r.endpoint, r.priority, r.schedule_id, r.started_at,
                r.max_calls_per_run, r.max_spend_per_run, r.max_spend_per_day,
                array(
                    SELECT user_uid FROM inserted WHERE status = '{RunUserStatus.Unchanged}'
                    UNION ALL
                    SELECT user_uid FROM scheduler.run_users
                    WHERE run_id = @runId AND user_uid = ANY(@uids) AND status = '{RunUserStatus.Unchanged}')
            """;
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<Guid>("runId", runId));
        command.Parameters.Add(new NpgsqlParameter<int>("pageNumber", pageNumber));
        UnchangedUsers.AddPageParameters(command, page);
        command.Parameters.Add(new NpgsqlParameter<bool>("isLastPage", isLastPage));
        command.Parameters.Add(new NpgsqlParameter<string?>("lastUid", page.Count > 0 ? page[^1].Uid : null) { NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", time.GetUtcNow()));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return new PageResult(PageRecorded.UnknownRun, SendsCommands: false, Commands: null);
        }

        var run = new Run
        {
            Id = runId,
            Endpoint = reader.GetString(2),
            Priority = reader.GetString(3),
            ScheduleId = reader.IsDBNull(4) ? null : reader.GetInt32(4),
            StartedAt = reader.GetFieldValue<DateTimeOffset>(5),
            MaxCallsPerRun = reader.IsDBNull(6) ? null : reader.GetInt32(6),
            MaxSpendPerRun = reader.IsDBNull(7) ? null : reader.GetDecimal(7),
            MaxSpendPerDay = reader.IsDBNull(8) ? null : reader.GetDecimal(8),
        };
        var unchanged = reader.GetFieldValue<string[]>(9).ToHashSet(StringComparer.Ordinal);
        return new PageResult(reader.GetBoolean(0) ? PageRecorded.Advanced : PageRecorded.BehindCursor, reader.GetBoolean(1), RunCommands.Of(run), unchanged);
    }

    /// <summary>
    /// Records a batch of outcomes in one round trip. Succeeded beats dispatched and failed (an operator's replay of a
    /// failed call can still succeed: the user moves from failed to succeeded); failed, skipped and cancelled beat only
    /// dispatched (a user not called leaves <c>dispatched</c>, so succeeded + failed = dispatched still completes the run).
    /// Anything else is a duplicate and changes nothing; so is a second outcome of the same (run, user) within the batch,
    /// which counts once as the better of the two. Each affected run's counters and spend move once, the first budget
    /// skip marks the run budget-exhausted, and the runs the batch completed are completed and returned.
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
        // run's counters once, and returns the outcomes that changed nothing and the runs whose budget it saw run out;
        // the second sees those counters and completes the batch's runs that are complete (a run whose completion was
        // missed earlier too, as the reconciler would).
        await using var command = dataSource.CreateCommand(
            $"""
            WITH outcome AS (
                SELECT * FROM unnest(@runIds, @userUids, @statuses, @reasons, @costs, @durations, @storedAts)
                    AS o(run_id, user_uid, status, reason, cost, duration_ms, stored_at)
            ), locked AS MATERIALIZED (
                SELECT ru.run_id, ru.user_uid, ru.status AS previous, o.status, o.reason, o.cost, o.duration_ms, o.stored_at,
                    ru.status = '{RunUserStatus.Dispatched}' OR (o.status = '{RunUserStatus.Succeeded}' AND ru.status = '{RunUserStatus.Failed}') AS moves
                FROM scheduler.run_users ru
                JOIN outcome o ON o.run_id = ru.run_id AND o.user_uid = ru.user_uid
                ORDER BY ru.run_id, ru.user_uid
                FOR UPDATE OF ru
            ), moved AS (
                UPDATE scheduler.run_users ru SET
                    status = l.status,
                    reason = CASE WHEN l.status = '{RunUserStatus.Succeeded}' THEN NULL ELSE l.reason END,
                    cost = CASE WHEN l.cost IS NULL THEN ru.cost ELSE coalesce(ru.cost, 0) + l.cost END,
                    duration_ms = coalesce(l.duration_ms, ru.duration_ms),
                    answer_stored_at = CASE WHEN l.status = '{RunUserStatus.Succeeded}' THEN l.stored_at ELSE ru.answer_stored_at END
                FROM locked l
                WHERE l.moves AND ru.run_id = l.run_id AND ru.user_uid = l.user_uid
                RETURNING l.run_id, l.previous, l.status, l.reason, l.cost
            ), counted AS (
                SELECT run_id,
                    count(*) FILTER (WHERE status = '{RunUserStatus.Succeeded}') AS to_succeeded,
                    count(*) FILTER (WHERE status = '{RunUserStatus.Failed}') AS to_failed,
                    count(*) FILTER (WHERE status = '{RunUserStatus.Succeeded}' AND previous = '{RunUserStatus.Failed}') AS failed_to_succeeded,
                    count(*) FILTER (WHERE status = '{RunUserStatus.Skipped}') AS to_skipped,
                    count(*) FILTER (WHERE status = '{RunUserStatus.Cancelled}') AS to_cancelled,
                    coalesce(bool_or(status = '{RunUserStatus.Skipped}' AND reason = '{CrewCallSkipped.BudgetReason}'), false) AS budget_skip,
                    coalesce(sum(cost), 0) AS cost
                FROM moved
                GROUP BY run_id
            ), locked_runs AS MATERIALIZED (
                SELECT id, budget_exhausted FROM scheduler.runs WHERE id IN (SELECT run_id FROM counted) ORDER BY id FOR UPDATE
            ), counters AS (
                UPDATE scheduler.runs r SET
                    succeeded = r.succeeded + c.to_succeeded,
                    failed = r.failed + c.to_failed - c.failed_to_succeeded,
                    dispatched = r.dispatched - c.to_skipped - c.to_cancelled,
                    skipped = r.skipped + c.to_skipped,
                    cancelled = r.cancelled + c.to_cancelled,
                    spent = r.spent + c.cost,
                    budget_exhausted = r.budget_exhausted OR c.budget_skip,
                    last_progress_at = @now
                FROM counted c
                JOIN locked_runs lr ON lr.id = c.run_id
                WHERE r.id = c.run_id
                RETURNING r.id, r.schedule_id, c.budget_skip AND NOT lr.budget_exhausted AS exhausted_now
            )
            SELECT o.run_id, o.user_uid, l.previous, NULL::integer AS schedule_id, false AS exhausted
            FROM outcome o
            LEFT JOIN locked l ON l.run_id = o.run_id AND l.user_uid = o.user_uid
            WHERE l.moves IS NOT TRUE
            UNION ALL
            SELECT id, NULL, NULL, schedule_id, true FROM counters WHERE exhausted_now;

            {CompleteRunsSql}
            """);
        command.Parameters.Add(new NpgsqlParameter<Guid[]>("runIds", batch.Select(o => o.RunId).ToArray()));
        command.Parameters.Add(new NpgsqlParameter<string[]>("userUids", batch.Select(o => o.UserUid).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string[]>("statuses", batch.Select(o => o.Status).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string?[]>("reasons", batch.Select(o => o.Succeeded ? null : o.Reason).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<decimal?[]>("costs", batch.Select(o => o.Cost).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Numeric });
        command.Parameters.Add(new NpgsqlParameter<long?[]>("durations", batch.Select(o => o.DurationMs).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset?[]>("storedAts", batch.Select(o => o.Succeeded ? o.StoredAt : null).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", time.GetUtcNow()));

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var runId = reader.GetGuid(0);
            if (reader.GetBoolean(4))
            {
                int? scheduleId = reader.IsDBNull(3) ? null : reader.GetInt32(3);
                LogBudgetExhausted(logger, runId);
                metrics.BudgetExhausted(scheduleId);
            }
            else if (reader.IsDBNull(2))
            {
                LogUnknownRunUser(logger, runId, reader.GetString(1));
            }
            else
            {
                LogDuplicateOutcome(logger, runId, reader.GetString(1), reader.GetString(2));
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
        UPDATE scheduler.runs SET status = {EndStatus}, completed_at = @now
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
            UPDATE scheduler.runs SET status = {EndStatus}, completed_at = @now
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
            WHERE {Ended} AND completion_published_at IS NULL AND completed_at <= @completedBefore
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
            WHERE id = @runId AND {Ended} AND completed_at = @completedAt AND completion_published_at IS NULL
            """);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", time.GetUtcNow()));
        command.Parameters.Add(new NpgsqlParameter<Guid>("runId", completed.RunId));
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("completedAt", completed.CompletedAt));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private const string Completable = $"status = '{RunStatus.Running}' AND fan_out_completed AND succeeded + failed = dispatched";
    private const string CompletedColumns = "id, dispatched, succeeded, failed, skipped, completed_at, segment, started_at, status, cancelled, budget_exhausted, spent, unchanged";

    /// <summary>A run with a cancel requested ends cancelled, any other completed.</summary>
    private const string EndStatus = $"CASE WHEN cancel_requested_at IS NULL THEN '{RunStatus.Completed}' ELSE '{RunStatus.Cancelled}' END";

    private const string Ended = $"status IN ('{RunStatus.Completed}', '{RunStatus.Cancelled}')";

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
                Status = reader.GetString(8),
                Cancelled = reader.GetInt32(9),
                BudgetExhausted = reader.GetBoolean(10),
                Spent = reader.GetDecimal(11),
                Unchanged = reader.GetInt32(12),
            };
            if (log)
            {
                LogCompleted(logger, completed.RunId, completed.Status!, completed.Dispatched, completed.Succeeded, completed.Failed, completed.Skipped, completed.Cancelled, completed.Unchanged);
                metrics.RunCompleted(completed, reader.GetFieldValue<DateTimeOffset>(7));
            }

            completions.Add(completed);
        }

        return completions;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: its budget ran out; the users not yet called are recorded as skipped")]
    private static partial void LogBudgetExhausted(ILogger logger, Guid runId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outcome for run {RunId} user {UserUid} ignored: no such run or user in it")]
    private static partial void LogUnknownRunUser(ILogger logger, Guid runId, string userUid);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Outcome for run {RunId} user {UserUid} changes nothing: already {Status}")]
    private static partial void LogDuplicateOutcome(ILogger logger, Guid runId, string userUid, string status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} {Status}: {Dispatched} dispatched, {Succeeded} succeeded, {Failed} failed, {Skipped} skipped, {Cancelled} cancelled, {Unchanged} unchanged")]
    private static partial void LogCompleted(ILogger logger, Guid runId, string status, int dispatched, int succeeded, int failed, int skipped, int cancelled, int unchanged);
}
