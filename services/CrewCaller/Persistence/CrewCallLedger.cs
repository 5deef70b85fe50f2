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
    public sealed record AlreadySucceeded(string ResponseJson, int Attempts, long DurationMs, DateTimeOffset FinishedAt) : ClaimResult;

    /// <summary>The call failed for good and this command is no operator's replay: do not call again.</summary>
    public sealed record AlreadyFailed(string Reason, int? StatusCode, int Attempts, DateTimeOffset FinishedAt) : ClaimResult;

    /// <summary>Another live claim is calling right now; the row can be claimed from <paramref name="ClaimableAt"/> on unless that claim is renewed.</summary>
    public sealed record HeldElsewhere(DateTimeOffset ClaimableAt, DateTimeOffset DatabaseNow) : ClaimResult
    {
        public TimeSpan Remaining => ClaimableAt > DatabaseNow ? ClaimableAt - DatabaseNow : TimeSpan.Zero;
    }
}

/// <summary>
/// The <c>crew_caller.crew_calls</c> ledger. Every decision is one SQL statement, so two instances racing for the
/// same (run, user) cannot both win; time is the database's clock, so instances with skewed clocks agree on leases.
/// </summary>
public sealed class CrewCallLedger(NpgsqlDataSource dataSource, CrewCallerInstance instance)
{
    // One statement, so two claimants cannot both win. A row is ours when it is new, when it is our own leftover (a
    // message retry after a database error; the in-process registry guarantees no other local consumer holds it),
    // when an operator replays a failure, or when its holder stopped renewing its lease. A lease that ran out is only
    // proof of a dead holder once PostgreSQL itself has been up for a whole lease: after a database restart every
    // holder gets one lease to renew, so an outage alone never buys a second paid call.
    // The claim counts the attempt it is made for, which saves the happy path a round trip; a claim handed back before
    // that attempt was made gives it back on release.
    // Raw SQL: an upsert (INSERT .. ON CONFLICT DO UPDATE .. WHERE) with the database clock, which EF cannot express.
    private const string ClaimSql = $"""
        INSERT INTO crew_caller.crew_calls AS c (run_id, user_uid, status, attempts, claimed_by, lease_expires_at, started_at)
        VALUES (@run_id, @user_uid, '{CrewCallStatus.Calling}', 1, @claimed_by, now() + @lease, now())
        ON CONFLICT (run_id, user_uid) DO UPDATE
        SET status = '{CrewCallStatus.Calling}', attempts = c.attempts + 1, claimed_by = EXCLUDED.claimed_by, lease_expires_at = EXCLUDED.lease_expires_at,
            started_at = EXCLUDED.started_at, finished_at = NULL, duration_ms = NULL
        WHERE (c.status = '{CrewCallStatus.Calling}' AND c.claimed_by = EXCLUDED.claimed_by)
           OR (c.status = '{CrewCallStatus.Calling}' AND c.lease_expires_at < now() AND pg_postmaster_start_time() < now() - @lease)
           OR (c.status = '{CrewCallStatus.Failed}' AND @replay_failed)
        RETURNING c.attempts
        """;

    // Raw SQL: the lease as the database clock and pg_postmaster_start_time() see it, which EF cannot express.
    private const string ReadSql = """
        SELECT status, attempts, GREATEST(lease_expires_at, pg_postmaster_start_time() + @lease), now(),
               response_json, duration_ms, finished_at, last_error, last_status_code
        FROM crew_caller.crew_calls WHERE run_id = @run_id AND user_uid = @user_uid
        """;

    public async Task<ClaimResult> TryClaimAsync(Guid runId, string userUid, TimeSpan lease, bool replayFailed, CancellationToken cancellationToken)
    {
        while (true)
        {
            await using (var claim = Command(ClaimSql, runId, userUid))
            {
                claim.Parameters.AddWithValue("lease", lease);
                claim.Parameters.AddWithValue("replay_failed", replayFailed);
                if (await claim.ExecuteScalarAsync(cancellationToken) is int attempts)
                {
                    return new ClaimResult.Claimed(attempts);
                }
            }

            await using var read = Command(ReadSql, runId, userUid);
            read.Parameters.AddWithValue("lease", lease);
            await using var row = await read.ExecuteReaderAsync(cancellationToken);
            if (!await row.ReadAsync(cancellationToken))
            {
                continue; // the row vanished between the two statements (deleted by hand): claim again
            }

            var databaseNow = row.GetFieldValue<DateTimeOffset>(3);
            var finishedAt = row.IsDBNull(6) ? databaseNow : row.GetFieldValue<DateTimeOffset>(6);
            switch (row.GetString(0))
            {
                case CrewCallStatus.Succeeded:
                    return new ClaimResult.AlreadySucceeded(row.GetString(4), row.GetInt32(1), row.IsDBNull(5) ? 0 : row.GetInt64(5), finishedAt);
                case CrewCallStatus.Failed when !replayFailed:
                    return new ClaimResult.AlreadyFailed(
                        row.IsDBNull(7) ? "failed" : row.GetString(7), row.IsDBNull(8) ? null : row.GetInt32(8), row.GetInt32(1), finishedAt);
                case CrewCallStatus.Calling when row.GetFieldValue<DateTimeOffset>(2) >= databaseNow:
                    return new ClaimResult.HeldElsewhere(row.GetFieldValue<DateTimeOffset>(2), databaseNow);
                default:
                    continue; // the lease ran out or the row failed in between: claim again
            }
        }
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

    /// <summary>Counts the attempt about to start, after the first (the claim counted that one). False when the claim is no longer ours.</summary>
    public async Task<bool> BeginAttemptAsync(Guid runId, string userUid, CancellationToken cancellationToken)
    {
        // Raw SQL: the ledger has no DbContext; each decision is one statement on a pooled connection (see the class note).
        await using var command = Command($"""
            UPDATE crew_caller.crew_calls SET attempts = attempts + 1
            WHERE run_id = @run_id AND user_uid = @user_uid AND claimed_by = @claimed_by AND status = '{CrewCallStatus.Calling}'
            """, runId, userUid);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
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
    /// Records the answer; when it was recorded, the time it was. No live lease is required: an answer that arrived
    /// while the heartbeat could not reach the database is still ours unless someone has taken the row over.
    /// </summary>
    public async Task<DateTimeOffset?> RecordSuccessAsync(Guid runId, string userUid, string responseJson, int statusCode, long durationMs, CancellationToken cancellationToken)
    {
        // Raw SQL: a conditional UPDATE .. RETURNING the database's now().
        await using var command = Command($"""
            UPDATE crew_caller.crew_calls
            SET status = '{CrewCallStatus.Succeeded}', response_json = @response_json, last_status_code = @status_code, last_error = NULL,
                finished_at = now(), duration_ms = @duration_ms
            WHERE run_id = @run_id AND user_uid = @user_uid AND claimed_by = @claimed_by AND status = '{CrewCallStatus.Calling}'
            RETURNING finished_at
            """, runId, userUid);
        command.Parameters.AddWithValue("response_json", responseJson);
        command.Parameters.AddWithValue("status_code", statusCode);
        command.Parameters.AddWithValue("duration_ms", durationMs);
        return await command.ExecuteScalarAsync(cancellationToken) is DateTime finishedAt ? new DateTimeOffset(finishedAt, TimeSpan.Zero) : null;
    }

    /// <summary>Records giving up; when it was recorded, the time it was. Like <see cref="RecordSuccessAsync"/>, no live lease is required.</summary>
    public async Task<DateTimeOffset?> RecordFailureAsync(Guid runId, string userUid, string error, int? statusCode, long durationMs, CancellationToken cancellationToken)
    {
        // Raw SQL: a conditional UPDATE .. RETURNING the database's now().
        await using var command = Command($"""
            UPDATE crew_caller.crew_calls
            SET status = '{CrewCallStatus.Failed}', last_error = @error, last_status_code = @status_code, finished_at = now(), duration_ms = @duration_ms
            WHERE run_id = @run_id AND user_uid = @user_uid AND claimed_by = @claimed_by AND status = '{CrewCallStatus.Calling}'
            RETURNING finished_at
            """, runId, userUid);
        command.Parameters.AddWithValue("error", error);
        command.Parameters.AddWithValue("status_code", (object?)statusCode ?? DBNull.Value);
        command.Parameters.AddWithValue("duration_ms", durationMs);
        return await command.ExecuteScalarAsync(cancellationToken) is DateTime finishedAt ? new DateTimeOffset(finishedAt, TimeSpan.Zero) : null;
    }

    /// <summary>
    /// Gives the claim up at once (shutdown, hand-back), so the next delivery of the command is not kept waiting for the
    /// lease. <paramref name="attemptNotMade"/>: the attempt counted in advance (by the claim or
    /// <see cref="BeginAttemptAsync"/>) never reached the crew API, so it is taken off the count again.
    /// </summary>
    public async Task ReleaseAsync(Guid runId, string userUid, bool attemptNotMade, CancellationToken cancellationToken)
    {
        // Raw SQL: the lease ends on the database clock, the one every instance judges it by.
        await using var command = Command($"""
            UPDATE crew_caller.crew_calls
            SET lease_expires_at = now() - interval '1 millisecond', attempts = attempts - @attempts_not_made
            WHERE run_id = @run_id AND user_uid = @user_uid AND claimed_by = @claimed_by AND status = '{CrewCallStatus.Calling}'
            """, runId, userUid);
        command.Parameters.AddWithValue("attempts_not_made", attemptNotMade ? 1 : 0);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private NpgsqlCommand Command(string sql, Guid runId, string userUid)
    {
        var command = dataSource.CreateCommand(sql);
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
