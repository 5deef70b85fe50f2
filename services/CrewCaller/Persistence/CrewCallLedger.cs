using CrewPlatform.Contracts;
using Npgsql;

namespace CrewPlatform.CrewCaller.Persistence;

/// <summary>What a claim on a (run, user) came to.</summary>
public abstract record ClaimResult
{
    /// <summary>
    /// The call is ours to make, and its first attempt is counted already (<paramref name="Attempts"/> includes it):
    /// make it, or give it back with <see cref="CrewCallLedger.ReleaseAsync"/>.
    /// </summary>
    public sealed record Claimed(int Attempts) : ClaimResult;

    /// <summary>The user already has an answer in this run: do not call again.</summary>
    public sealed record AlreadySucceeded(string ResponseJson, int Attempts, long DurationMs, DateTimeOffset FinishedAt, decimal? Cost) : ClaimResult;

    /// <summary>The call failed for good (or its budget refused a retry) and this command is no operator's replay: do not call again.</summary>
    public sealed record AlreadyFailed(string Reason, int? StatusCode, int Attempts, DateTimeOffset FinishedAt, decimal? Cost) : ClaimResult;

    /// <summary>The user is not called in this run: its budget had no room for a first attempt, or the run was cancelled.</summary>
    public sealed record Skipped(string Reason, DateTimeOffset SkippedAt) : ClaimResult;

    /// <summary>Another live claim is calling right now; the row can be claimed from <paramref name="ClaimableAt"/> on unless that claim is renewed.</summary>
    public sealed record HeldElsewhere(DateTimeOffset ClaimableAt, DateTimeOffset DatabaseNow) : ClaimResult
    {
        public TimeSpan Remaining => ClaimableAt > DatabaseNow ? ClaimableAt - DatabaseNow : TimeSpan.Zero;
    }
}

/// <summary>What the attempts of a command with a budget are admitted under: its limits and each attempt's expected cost.</summary>
public sealed record CallSpend(Guid RunId, RunBudget Budget, decimal Expected)
{
    /// <summary>The run's own scope: its calls and spend (MaxCalls, MaxSpend).</summary>
    public string RunScope => RunScopeOf(RunId);

    public static string RunScopeOf(Guid runId) => $"run:{runId}";

    /// <summary>The scopes the attempts count against, in the one order every statement locks them in.</summary>
    public string[] Scopes => (Budget.DayScope is { } day ? [RunScope, day] : new[] { RunScope }).Order(StringComparer.Ordinal).ToArray();
}

/// <summary>Whether an attempt after the first may be made.</summary>
public enum AttemptAdmission
{
    Begun,

    /// <summary>Another instance took the claim over.</summary>
    ClaimLost,

    /// <summary>The run's budget has no room for another attempt.</summary>
    BudgetRefused,
}

/// <summary>
/// The <c>crew_caller.crew_calls</c> ledger. Every decision is one SQL statement, so two instances racing for the
/// same (run, user) cannot both win; time is the database's clock, so instances with skewed clocks agree on leases.
/// A command with a budget also moves its spend scopes (<c>crew_caller.spend_scopes</c>) in the same transaction as
/// the decision, after locking them in one order, so two instances cannot both take a run's last room.
/// </summary>
public sealed class CrewCallLedger(NpgsqlDataSource dataSource, CrewCallerInstance instance)
{
    // One statement, so two claimants cannot both win. A row is ours when it is new, when it is our own leftover (a
    // message retry after a database error; the in-process registry guarantees no other local consumer holds it),
    // when an operator replays a failure, or when its holder stopped renewing its lease. A lease that ran out is only
    // proof of a dead holder once PostgreSQL itself has been up for a whole lease: after a database restart every
    // holder gets one lease to renew, so an outage alone never buys a second paid call. A cancelled run is claimed by
    // no one (its row becomes skipped, SkipCancelledSql), except by an operator's replay of a failure: retry-failed of a
    // cancelled run reopens it for its failed users only.
    // The claim counts the attempt it is made for, which saves the happy path a round trip; a claim handed back before
    // that attempt was made gives it back on release.
    // Raw SQL: an upsert (INSERT .. ON CONFLICT DO UPDATE .. WHERE) with the database clock, which EF cannot express.
    private const string ClaimSql = $"""
        INSERT INTO crew_caller.crew_calls AS c (run_id, user_uid, status, attempts, claimed_by, lease_expires_at, started_at, endpoint)
        SELECT @run_id, @user_uid, '{CrewCallStatus.Calling}', 1, @claimed_by, now() + @lease, now(), @endpoint
        WHERE @replay_failed OR NOT EXISTS (SELECT 1 FROM crew_caller.cancelled_runs WHERE run_id = @run_id)
        ON CONFLICT (run_id, user_uid) DO UPDATE
        SET status = '{CrewCallStatus.Calling}', attempts = c.attempts + 1, claimed_by = EXCLUDED.claimed_by, lease_expires_at = EXCLUDED.lease_expires_at,
            started_at = EXCLUDED.started_at, finished_at = NULL, duration_ms = NULL, endpoint = EXCLUDED.endpoint
        WHERE ((c.status = '{CrewCallStatus.Calling}' AND c.claimed_by = EXCLUDED.claimed_by)
           OR (c.status = '{CrewCallStatus.Calling}' AND c.lease_expires_at < now() AND pg_postmaster_start_time() < now() - @lease)
           OR (c.status = '{CrewCallStatus.Failed}' AND @replay_failed))
          AND ((c.status = '{CrewCallStatus.Failed}' AND @replay_failed) OR NOT EXISTS (SELECT 1 FROM crew_caller.cancelled_runs WHERE run_id = @run_id))
        RETURNING c.attempts
        """;

    // Raw SQL: the lease as the database clock and pg_postmaster_start_time() see it, which EF cannot express. One row
    // even when the (run, user) has none, for whether the run is cancelled.
    private const string ReadSql = """
        SELECT status, attempts, GREATEST(lease_expires_at, pg_postmaster_start_time() + @lease), now(),
               response_json, duration_ms, finished_at, last_error, last_status_code, cost,
               EXISTS (SELECT 1 FROM crew_caller.cancelled_runs WHERE run_id = @run_id)
        FROM (SELECT 1) AS one LEFT JOIN crew_caller.crew_calls ON run_id = @run_id AND user_uid = @user_uid
        """;

    // A cancelled run's user whom nobody is calling now (no row yet, a failure being replayed, a dead claim) is never called.
    private const string SkipCancelledSql = $"""
        INSERT INTO crew_caller.crew_calls AS c (run_id, user_uid, status, attempts, claimed_by, lease_expires_at, started_at, finished_at, last_error, endpoint)
        VALUES (@run_id, @user_uid, '{CrewCallStatus.Skipped}', 0, @claimed_by, now(), now(), now(), '{CrewCallSkipped.CancelledReason}', @endpoint)
        ON CONFLICT (run_id, user_uid) DO UPDATE SET status = '{CrewCallStatus.Skipped}', last_error = '{CrewCallSkipped.CancelledReason}', finished_at = now()
        WHERE c.status = '{CrewCallStatus.Failed}'
           OR (c.status = '{CrewCallStatus.Calling}' AND GREATEST(c.lease_expires_at, pg_postmaster_start_time() + @lease) < now())
        """;

    // Every transaction that moves spend scopes locks them first, in one order: the statements after it read what no
    // one else can change until the commit.
    private const string LockScopesSql = """
        INSERT INTO crew_caller.spend_scopes (scope, calls, reserved, spent) SELECT unnest(@scopes), 0, 0, 0 ON CONFLICT DO NOTHING;
        SELECT 1 FROM crew_caller.spend_scopes WHERE scope = ANY(@scopes) ORDER BY scope FOR UPDATE
        """;

    // Admits one attempt when every scope has room: calls below MaxCalls, and spend (settled and reserved) below its limit
    // with room left for the attempt's expected cost; reserves it in the scopes and on the row, all or nothing.
    private const string ReserveSql = $"""
        WITH admitted AS (
            UPDATE crew_caller.spend_scopes SET calls = calls + 1, reserved = reserved + @expected
            WHERE scope = ANY(@scopes) AND NOT EXISTS (
                SELECT 1 FROM crew_caller.spend_scopes s WHERE s.scope = ANY(@scopes) AND NOT CASE WHEN s.scope = @run_scope
                    THEN (@max_calls::int IS NULL OR s.calls < @max_calls)
                         AND (@max_spend::numeric IS NULL OR (s.spent + s.reserved < @max_spend AND s.spent + s.reserved + @expected <= @max_spend))
                    ELSE @max_day::numeric IS NULL OR (s.spent + s.reserved < @max_day AND s.spent + s.reserved + @expected <= @max_day) END)
            RETURNING 1)
        UPDATE crew_caller.crew_calls SET reserved_cost = COALESCE(reserved_cost, 0) + @expected, day_scope = @day_scope, attempts = attempts + @count_attempt
        WHERE run_id = @run_id AND user_uid = @user_uid AND claimed_by = @claimed_by AND status = '{CrewCallStatus.Calling}'
          AND (SELECT count(*) FROM admitted) = cardinality(@scopes)
        RETURNING 1
        """;

    // A claim taken over (or our own leftover) inherits the reservation of the attempt its holder made: that attempt
    // most likely reached the crew API, so it is settled as spent at its expected cost.
    private const string SettleTakenOverSql = """
        WITH taken AS (
            SELECT reserved_cost, day_scope FROM crew_caller.crew_calls WHERE run_id = @run_id AND user_uid = @user_uid AND reserved_cost IS NOT NULL),
        settled AS (
            UPDATE crew_caller.spend_scopes SET reserved = reserved - (SELECT reserved_cost FROM taken), spent = spent + (SELECT reserved_cost FROM taken)
            WHERE EXISTS (SELECT 1 FROM taken) AND (scope = @run_scope OR scope = (SELECT day_scope FROM taken)))
        UPDATE crew_caller.crew_calls SET reserved_cost = NULL WHERE run_id = @run_id AND user_uid = @user_uid AND reserved_cost IS NOT NULL
        """;

    // The budget refused the claim's attempt: it is taken off the count again; a user never called is skipped.
    private const string RefuseSql = $"""
        UPDATE crew_caller.crew_calls
        SET status = CASE WHEN attempts = 1 THEN '{CrewCallStatus.Skipped}' ELSE '{CrewCallStatus.Failed}' END, attempts = attempts - 1,
            last_error = CASE WHEN attempts = 1 THEN '{CrewCallSkipped.BudgetReason}' ELSE 'budget exhausted after ' || (attempts - 1) || ' attempts' END,
            finished_at = now(), duration_ms = 0
        WHERE run_id = @run_id AND user_uid = @user_uid
        RETURNING status, attempts, last_error, last_status_code, finished_at, cost
        """;

    // An outcome settles the row's reservation with the real cost (0 when unknown) in the same statement that records it.
    private const string SettleSql = """
        , held AS (SELECT reserved_cost FROM crew_caller.crew_calls WHERE run_id = @run_id AND user_uid = @user_uid),
        settled AS (
            UPDATE crew_caller.spend_scopes SET reserved = reserved - COALESCE((SELECT reserved_cost FROM held), 0), spent = spent + COALESCE(@cost, 0)
            WHERE scope = ANY(@scopes) AND EXISTS (SELECT 1 FROM recorded))
        SELECT finished_at FROM recorded
        """;

    /// <summary>
    /// Claims the (run, user) and counts its attempt. With <paramref name="spend"/>, the run's budget admits the attempt
    /// in the same transaction; refused, the row becomes skipped (no attempt was ever made) or failed.
    /// </summary>
    public async Task<ClaimResult> TryClaimAsync(
        Guid runId, string userUid, string endpoint, TimeSpan lease, bool replayFailed, CallSpend? spend, CancellationToken cancellationToken)
    {
        while (true)
        {
            var claimed = spend is null
                ? await ClaimAsync(null, runId, userUid, endpoint, lease, replayFailed, cancellationToken)
                : await ClaimWithinBudgetAsync(runId, userUid, endpoint, lease, replayFailed, spend, cancellationToken);
            if (claimed is not null)
            {
                return claimed;
            }

            var (read, skipCancelled) = await ReadClaimAsync(runId, userUid, lease, replayFailed, cancellationToken);
            if (read is not null)
            {
                return read;
            }

            if (skipCancelled)
            {
                await using var skip = Command(SkipCancelledSql, runId, userUid);
                skip.Parameters.AddWithValue("lease", lease);
                skip.Parameters.AddWithValue("endpoint", endpoint);
                await skip.ExecuteNonQueryAsync(cancellationToken);
            }

            // The lease ran out, the row failed or vanished in between, or the cancelled run's row is skipped now: read again.
        }
    }

    /// <summary>
    /// What a claim that did not win finds: the row's outcome, or null to claim again, then (for a cancelled run's row
    /// nobody holds) after marking it skipped. The reader is disposed here, once: Npgsql hands a reader's object to the
    /// connection's next user, so a second dispose would close someone else's reader.
    /// </summary>
    private async Task<(ClaimResult? Result, bool SkipCancelled)> ReadClaimAsync(
        Guid runId, string userUid, TimeSpan lease, bool replayFailed, CancellationToken cancellationToken)
    {
        await using var read = Command(ReadSql, runId, userUid);
        read.Parameters.AddWithValue("lease", lease);
        await using var row = await read.ExecuteReaderAsync(cancellationToken);
        await row.ReadAsync(cancellationToken);
        var databaseNow = row.GetFieldValue<DateTimeOffset>(3);
        var finishedAt = row.IsDBNull(6) ? databaseNow : row.GetFieldValue<DateTimeOffset>(6);
        var cost = row.IsDBNull(9) ? (decimal?)null : row.GetDecimal(9);
        return (row.IsDBNull(0) ? null : row.GetString(0)) switch
        {
            CrewCallStatus.Succeeded =>
                (new ClaimResult.AlreadySucceeded(row.GetString(4), row.GetInt32(1), row.IsDBNull(5) ? 0 : row.GetInt64(5), finishedAt, cost), false),
            CrewCallStatus.Failed when !replayFailed =>
                (new ClaimResult.AlreadyFailed(
                    row.IsDBNull(7) ? "failed" : row.GetString(7), row.IsDBNull(8) ? null : row.GetInt32(8), row.GetInt32(1), finishedAt, cost), false),
            CrewCallStatus.Skipped =>
                (new ClaimResult.Skipped(row.IsDBNull(7) ? CrewCallSkipped.CancelledReason : row.GetString(7), finishedAt), false),
            CrewCallStatus.Calling when row.GetFieldValue<DateTimeOffset>(2) >= databaseNow =>
                (new ClaimResult.HeldElsewhere(row.GetFieldValue<DateTimeOffset>(2), databaseNow), false),
            _ => (null, row.GetBoolean(10)),
        };
    }

    private async Task<ClaimResult?> ClaimAsync(
        NpgsqlConnection? connection, Guid runId, string userUid, string endpoint, TimeSpan lease, bool replayFailed, CancellationToken cancellationToken)
    {
        await using var claim = Command(ClaimSql, runId, userUid, connection);
        claim.Parameters.AddWithValue("lease", lease);
        claim.Parameters.AddWithValue("replay_failed", replayFailed);
        claim.Parameters.AddWithValue("endpoint", endpoint);
        return await claim.ExecuteScalarAsync(cancellationToken) is int attempts ? new ClaimResult.Claimed(attempts) : null;
    }

    private async Task<ClaimResult?> ClaimWithinBudgetAsync(
        Guid runId, string userUid, string endpoint, TimeSpan lease, bool replayFailed, CallSpend spend, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await LockScopesAsync(connection, spend, cancellationToken);
        var claimed = await ClaimAsync(connection, runId, userUid, endpoint, lease, replayFailed, cancellationToken);
        if (claimed is null)
        {
            await transaction.CommitAsync(cancellationToken);
            return null;
        }

        await using (var settle = Command(SettleTakenOverSql, runId, userUid, connection))
        {
            settle.Parameters.AddWithValue("run_scope", spend.RunScope);
            await settle.ExecuteNonQueryAsync(cancellationToken);
        }

        if (await ReserveAsync(connection, runId, userUid, spend, countAttempt: false, cancellationToken))
        {
            await transaction.CommitAsync(cancellationToken);
            return claimed;
        }

        ClaimResult refused;
        await using (var refuse = Command(RefuseSql, runId, userUid, connection))
        await using (var row = await refuse.ExecuteReaderAsync(cancellationToken))
        {
            await row.ReadAsync(cancellationToken);
            var at = row.GetFieldValue<DateTimeOffset>(4);
            refused = row.GetString(0) == CrewCallStatus.Skipped
                ? new ClaimResult.Skipped(CrewCallSkipped.BudgetReason, at)
                : new ClaimResult.AlreadyFailed(row.GetString(2), row.IsDBNull(3) ? null : row.GetInt32(3), row.GetInt32(1), at, row.IsDBNull(5) ? null : row.GetDecimal(5));
        }

        await transaction.CommitAsync(cancellationToken);
        return refused;
    }

    private static async Task LockScopesAsync(NpgsqlConnection connection, CallSpend spend, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(LockScopesSql, connection);
        command.Parameters.AddWithValue("scopes", spend.Scopes);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<bool> ReserveAsync(NpgsqlConnection connection, Guid runId, string userUid, CallSpend spend, bool countAttempt, CancellationToken cancellationToken)
    {
        await using var reserve = Command(ReserveSql, runId, userUid, connection);
        reserve.Parameters.AddWithValue("scopes", spend.Scopes);
        reserve.Parameters.AddWithValue("run_scope", spend.RunScope);
        reserve.Parameters.AddWithValue("expected", spend.Expected);
        reserve.Parameters.AddWithValue("max_calls", NpgsqlTypes.NpgsqlDbType.Integer, (object?)spend.Budget.MaxCalls ?? DBNull.Value);
        reserve.Parameters.AddWithValue("max_spend", NpgsqlTypes.NpgsqlDbType.Numeric, (object?)spend.Budget.MaxSpend ?? DBNull.Value);
        reserve.Parameters.AddWithValue("max_day", NpgsqlTypes.NpgsqlDbType.Numeric, (object?)(spend.Budget.DayScope is null ? null : spend.Budget.MaxSpendPerDay) ?? DBNull.Value);
        reserve.Parameters.AddWithValue("day_scope", NpgsqlTypes.NpgsqlDbType.Text, (object?)spend.Budget.DayScope ?? DBNull.Value);
        reserve.Parameters.AddWithValue("count_attempt", countAttempt ? 1 : 0);
        return await reserve.ExecuteScalarAsync(cancellationToken) is not null;
    }

    /// <summary>
    /// What an attempt of a command with a budget is expected to cost: the endpoint's fixed price, else the median of
    /// its latest 100 priced calls in the ledger, else 0.
    /// </summary>
    public async Task<decimal> ExpectedCostAsync(string endpoint, decimal? costPerCall, CancellationToken cancellationToken)
    {
        if (costPerCall is { } price)
        {
            return price;
        }

        // Raw SQL: an ordered-set aggregate over the latest rows, which EF cannot express.
        await using var command = dataSource.CreateCommand("""
            SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY cost)
            FROM (SELECT cost FROM crew_caller.crew_calls WHERE endpoint = @endpoint AND cost IS NOT NULL ORDER BY finished_at DESC LIMIT 100) AS latest
            """);
        command.Parameters.AddWithValue("endpoint", endpoint);
        return await command.ExecuteScalarAsync(cancellationToken) is double median ? (decimal)median : 0m;
    }

    /// <summary>
    /// Renews, in one statement, the leases of every (run, user) this instance is working on. Rows that are not ours
    /// (yet, or any more) are left alone.
    /// </summary>
    public async Task<int> RenewLeasesAsync(IReadOnlyCollection<(Guid RunId, string UserUid)> claims, TimeSpan lease, CancellationToken cancellationToken)
    {
        // Raw SQL: one statement for a whole set of (run, user) keys (unnest), on the database clock.
        await using var command = dataSource.CreateCommand($"""
            UPDATE crew_caller.crew_calls SET lease_expires_at = now() + @lease
            WHERE claimed_by = @claimed_by AND status = '{CrewCallStatus.Calling}'
              AND (run_id, user_uid) IN (SELECT * FROM unnest(@runs, @users))
            """);
        command.Parameters.AddWithValue("lease", lease);
        command.Parameters.AddWithValue("claimed_by", instance.Id);
        command.Parameters.AddWithValue("runs", claims.Select(c => c.RunId).ToArray());
        command.Parameters.AddWithValue("users", claims.Select(c => c.UserUid).ToArray());
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Counts the attempt about to start, after the first (the claim counted that one), and with <paramref name="spend"/>
    /// admits it by the run's budget in the same transaction.
    /// </summary>
    public async Task<AttemptAdmission> BeginAttemptAsync(Guid runId, string userUid, CallSpend? spend, CancellationToken cancellationToken)
    {
        // Raw SQL: the ledger has no DbContext; each decision is one statement on a pooled connection (see the class note).
        const string Ours = $"run_id = @run_id AND user_uid = @user_uid AND claimed_by = @claimed_by AND status = '{CrewCallStatus.Calling}'";
        if (spend is null)
        {
            await using var command = Command($"UPDATE crew_caller.crew_calls SET attempts = attempts + 1 WHERE {Ours}", runId, userUid);
            return await command.ExecuteNonQueryAsync(cancellationToken) == 1 ? AttemptAdmission.Begun : AttemptAdmission.ClaimLost;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await LockScopesAsync(connection, spend, cancellationToken);
        if (await ReserveAsync(connection, runId, userUid, spend, countAttempt: true, cancellationToken))
        {
            await transaction.CommitAsync(cancellationToken);
            return AttemptAdmission.Begun;
        }

        await transaction.RollbackAsync(cancellationToken);
        await using var ours = Command($"SELECT 1 FROM crew_caller.crew_calls WHERE {Ours}", runId, userUid, connection);
        return await ours.ExecuteScalarAsync(cancellationToken) is null ? AttemptAdmission.ClaimLost : AttemptAdmission.BudgetRefused;
    }

    /// <summary>Notes why the last attempt failed. False when the claim is no longer ours.</summary>
    public async Task<bool> RecordAttemptFailureAsync(Guid runId, string userUid, string error, int? statusCode, CancellationToken cancellationToken)
    {
        // Raw SQL: the ledger has no DbContext; each decision is one statement on a pooled connection (see the class note).
        await using var command = Command($"""
            UPDATE crew_caller.crew_calls SET last_error = @error, last_status_code = @status_code
            WHERE run_id = @run_id AND user_uid = @user_uid AND claimed_by = @claimed_by AND status = '{CrewCallStatus.Calling}'
            """, runId, userUid);
        command.Parameters.AddWithValue("error", error);
        command.Parameters.AddWithValue("status_code", (object?)statusCode ?? DBNull.Value);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>
    /// Records the answer and its cost; when it was recorded, the time it was. No live lease is required: an answer that
    /// arrived while the heartbeat could not reach the database is still ours unless someone has taken the row over.
    /// </summary>
    public Task<DateTimeOffset?> RecordSuccessAsync(
        Guid runId, string userUid, string responseJson, int statusCode, long durationMs, decimal? cost, CallSpend? spend, CancellationToken cancellationToken) =>
        RecordAsync(
            runId, userUid, CrewCallStatus.Succeeded, "response_json = @response_json, last_error = NULL", null, statusCode, durationMs, cost, spend,
            command => command.Parameters.AddWithValue("response_json", responseJson), cancellationToken);

    /// <summary>Records giving up and its cost; when it was recorded, the time it was. Like <see cref="RecordSuccessAsync"/>, no live lease is required.</summary>
    public Task<DateTimeOffset?> RecordFailureAsync(
        Guid runId, string userUid, string error, int? statusCode, long durationMs, decimal? cost, CallSpend? spend, CancellationToken cancellationToken) =>
        RecordAsync(runId, userUid, CrewCallStatus.Failed, "last_error = @error", error, statusCode, durationMs, cost, spend, _ => { }, cancellationToken);

    private async Task<DateTimeOffset?> RecordAsync(
        Guid runId, string userUid, string status, string outcome, string? error, int? statusCode, long durationMs, decimal? cost, CallSpend? spend,
        Action<NpgsqlCommand> parameters, CancellationToken cancellationToken)
    {
        // Raw SQL: a conditional UPDATE .. RETURNING the database's now(); with a budget, the settlement rides along in a CTE.
        var record = $"""
            UPDATE crew_caller.crew_calls
            SET status = '{status}', {outcome}, last_status_code = @status_code, finished_at = now(), duration_ms = @duration_ms, cost = @cost, reserved_cost = NULL
            WHERE run_id = @run_id AND user_uid = @user_uid AND claimed_by = @claimed_by AND status = '{CrewCallStatus.Calling}'
            RETURNING finished_at
            """;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = spend is null ? null : await connection.BeginTransactionAsync(cancellationToken);
        if (spend is not null)
        {
            await LockScopesAsync(connection, spend, cancellationToken);
        }

        await using var command = Command(spend is null ? record : $"WITH recorded AS ({record}) {SettleSql}", runId, userUid, connection);
        command.Parameters.AddWithValue("error", NpgsqlTypes.NpgsqlDbType.Text, (object?)error ?? DBNull.Value);
        command.Parameters.AddWithValue("status_code", NpgsqlTypes.NpgsqlDbType.Integer, (object?)statusCode ?? DBNull.Value);
        command.Parameters.AddWithValue("duration_ms", durationMs);
        command.Parameters.AddWithValue("cost", NpgsqlTypes.NpgsqlDbType.Numeric, (object?)cost ?? DBNull.Value);
        if (spend is not null)
        {
            command.Parameters.AddWithValue("scopes", spend.Scopes);
        }

        parameters(command);
        var finishedAt = await command.ExecuteScalarAsync(cancellationToken);
        if (transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
        }

        if (finishedAt is DateTime at)
        {
            return new DateTimeOffset(at, TimeSpan.Zero);
        }

        // Nothing to record: another instance took the row over, or this is a retry of a recording whose commit went
        // through while its answer was lost (the connection broke). Then the row holds our own outcome, to announce.
        await using var recorded = Command(
            $"SELECT finished_at FROM crew_caller.crew_calls WHERE run_id = @run_id AND user_uid = @user_uid AND claimed_by = @claimed_by AND status = '{status}'",
            runId, userUid, connection);
        return await recorded.ExecuteScalarAsync(cancellationToken) is DateTime earlier ? new DateTimeOffset(earlier, TimeSpan.Zero) : null;
    }

    /// <summary>
    /// Gives the claim up at once (shutdown, hand-back), so the next delivery of the command is not kept waiting for the
    /// lease. <paramref name="attemptNotMade"/>: the attempt counted in advance (by the claim or
    /// <see cref="BeginAttemptAsync"/>) never reached the crew API, so it is taken off the count again, and with
    /// <paramref name="spend"/> its reservation is given back to the budget.
    /// </summary>
    public async Task ReleaseAsync(Guid runId, string userUid, bool attemptNotMade, CallSpend? spend, CancellationToken cancellationToken)
    {
        // Raw SQL: the lease ends on the database clock, the one every instance judges it by.
        var release = $"""
            UPDATE crew_caller.crew_calls
            SET lease_expires_at = now() - interval '1 millisecond', attempts = attempts - @attempts_not_made, reserved_cost = reserved_cost - @given_back
            WHERE run_id = @run_id AND user_uid = @user_uid AND claimed_by = @claimed_by AND status = '{CrewCallStatus.Calling}'
            RETURNING 1
            """;
        var givesBack = spend is not null && attemptNotMade;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = givesBack ? await connection.BeginTransactionAsync(cancellationToken) : null;
        if (givesBack)
        {
            await LockScopesAsync(connection, spend!, cancellationToken);
        }

        await using var command = Command(
            givesBack
                ? $"""
                  WITH released AS ({release})
                  UPDATE crew_caller.spend_scopes SET calls = calls - 1, reserved = reserved - @given_back
                  WHERE scope = ANY(@scopes) AND EXISTS (SELECT 1 FROM released)
                  """
                : release,
            runId, userUid, connection);
        command.Parameters.AddWithValue("attempts_not_made", attemptNotMade ? 1 : 0);
        command.Parameters.AddWithValue("given_back", givesBack ? spend!.Expected : 0m);
        if (givesBack)
        {
            command.Parameters.AddWithValue("scopes", spend!.Scopes);
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
        if (transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
        }
    }

    /// <summary>Records that an operator cancelled a run (again is harmless): its users are claimed by no one from now on.</summary>
    public async Task CancelRunAsync(Guid runId, DateTimeOffset cancelledAt, CancellationToken cancellationToken)
    {
        // Raw SQL: INSERT .. ON CONFLICT DO NOTHING, so a re-published cancel is one cheap statement.
        await using var command = dataSource.CreateCommand(
            "INSERT INTO crew_caller.cancelled_runs (run_id, cancelled_at) VALUES (@run_id, @cancelled_at) ON CONFLICT DO NOTHING");
        command.Parameters.AddWithValue("run_id", runId);
        command.Parameters.AddWithValue("cancelled_at", cancelledAt);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private NpgsqlCommand Command(string sql, Guid runId, string userUid, NpgsqlConnection? connection = null)
    {
        var command = connection is null ? dataSource.CreateCommand(sql) : new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("run_id", runId);
        command.Parameters.AddWithValue("user_uid", userUid);
        command.Parameters.AddWithValue("claimed_by", instance.Id);
        return command;
    }
}

/// <summary>This process's name in the ledger's <c>claimed_by</c>: unique per start, so a restarted instance never mistakes an old claim for its own.</summary>
public sealed class CrewCallerInstance
{
    public string Id { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";
}
