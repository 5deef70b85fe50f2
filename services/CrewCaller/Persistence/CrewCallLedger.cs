using Npgsql;

namespace CrewPlatform.CrewCaller.Persistence;

/// <summary>What a claim on a (run, user) came to.</summary>
public abstract record ClaimResult
{
    /// <summary>The call is ours to make.</summary>
    public sealed record Claimed(int PreviousAttempts) : ClaimResult;

    /// <summary>The user already has an answer in this run: do not call again.</summary>
    public sealed record AlreadySucceeded(string ResponseJson, int Attempts, long DurationMs, DateTimeOffset FinishedAt) : ClaimResult;

    /// <summary>Another live instance is calling right now.</summary>
    public sealed record HeldElsewhere(DateTimeOffset LeaseExpiresAt, DateTimeOffset DatabaseNow) : ClaimResult;

    /// <summary>The call failed for good under someone else's claim (its command is in the error queue already).</summary>
    public sealed record FailedElsewhere(string? LastError) : ClaimResult;
}

/// <summary>
/// The <c>crew_caller.crew_calls</c> ledger. Every decision is one SQL statement, so two instances racing for the
/// same (run, user) cannot both win; time is the database's clock, so instances with skewed clocks agree on leases.
/// </summary>
public sealed class CrewCallLedger(NpgsqlDataSource dataSource, CrewCallerInstance instance)
{
    // One statement: a new row is claimed, and so is a row that failed (an operator's replay) or whose claimant
    // stopped renewing its lease (a crashed instance). A live claim or a success wins the conflict and nothing is returned.
    private const string ClaimSql = """
        INSERT INTO crew_caller.crew_calls AS c (run_id, user_uid, status, attempts, claimed_by, lease_expires_at, started_at)
        VALUES (@run_id, @user_uid, 'calling', 0, @claimed_by, now() + @lease, now())
        ON CONFLICT (run_id, user_uid) DO UPDATE
        SET status = 'calling', claimed_by = EXCLUDED.claimed_by, lease_expires_at = EXCLUDED.lease_expires_at,
            started_at = EXCLUDED.started_at, finished_at = NULL, duration_ms = NULL
        WHERE (@take_over_failed AND c.status = 'failed') OR (c.status = 'calling' AND c.lease_expires_at < now())
        RETURNING c.attempts
        """;

    private const string ReadSql = """
        SELECT status, attempts, lease_expires_at, now(), response_json, duration_ms, finished_at, last_error
        FROM crew_caller.crew_calls WHERE run_id = @run_id AND user_uid = @user_uid
        """;

    public async Task<ClaimResult> TryClaimAsync(Guid runId, string userUid, TimeSpan lease, bool takeOverFailed, CancellationToken cancellationToken)
    {
        while (true)
        {
            await using (var claim = Command(ClaimSql, runId, userUid))
            {
                claim.Parameters.AddWithValue("lease", lease);
                claim.Parameters.AddWithValue("take_over_failed", takeOverFailed);
                if (await claim.ExecuteScalarAsync(cancellationToken) is int previousAttempts)
                {
                    return new ClaimResult.Claimed(previousAttempts);
                }
            }

            await using var read = Command(ReadSql, runId, userUid);
            await using var row = await read.ExecuteReaderAsync(cancellationToken);
            if (!await row.ReadAsync(cancellationToken))
            {
                continue; // the row vanished between the two statements (deleted by hand): claim again
            }

            var status = row.GetString(0);
            switch (status)
            {
                case CrewCallStatus.Succeeded:
                    return new ClaimResult.AlreadySucceeded(
                        row.GetString(4),
                        row.GetInt32(1),
                        row.IsDBNull(5) ? 0 : row.GetInt64(5),
                        row.IsDBNull(6) ? row.GetFieldValue<DateTimeOffset>(3) : row.GetFieldValue<DateTimeOffset>(6));
                case CrewCallStatus.Failed when !takeOverFailed:
                    return new ClaimResult.FailedElsewhere(row.IsDBNull(7) ? null : row.GetString(7));
                case CrewCallStatus.Calling when row.GetFieldValue<DateTimeOffset>(2) >= row.GetFieldValue<DateTimeOffset>(3):
                    return new ClaimResult.HeldElsewhere(row.GetFieldValue<DateTimeOffset>(2), row.GetFieldValue<DateTimeOffset>(3));
                default:
                    continue; // the lease ran out or the row failed in between: claim again
            }
        }
    }

    /// <summary>Renews the lease and counts the attempt about to start. False when the claim is no longer ours.</summary>
    public async Task<bool> BeginAttemptAsync(Guid runId, string userUid, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var command = Command("""
            UPDATE crew_caller.crew_calls SET attempts = attempts + 1, lease_expires_at = now() + @lease
            WHERE run_id = @run_id AND user_uid = @user_uid AND claimed_by = @claimed_by AND status = 'calling'
            """, runId, userUid);
        command.Parameters.AddWithValue("lease", lease);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Keeps the claim through a wait before the next attempt, and notes why the last one failed.</summary>
    public async Task<bool> RecordAttemptFailureAsync(Guid runId, string userUid, string error, int? statusCode, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var command = Command("""
            UPDATE crew_caller.crew_calls SET last_error = @error, last_status_code = @status_code, lease_expires_at = now() + @lease
            WHERE run_id = @run_id AND user_uid = @user_uid AND claimed_by = @claimed_by AND status = 'calling'
            """, runId, userUid);
        command.Parameters.AddWithValue("error", error);
        command.Parameters.AddWithValue("status_code", (object?)statusCode ?? DBNull.Value);
        command.Parameters.AddWithValue("lease", lease);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task<bool> RecordSuccessAsync(Guid runId, string userUid, string responseJson, int statusCode, long durationMs, CancellationToken cancellationToken)
    {
        await using var command = Command("""
            UPDATE crew_caller.crew_calls
            SET status = 'succeeded', response_json = @response_json, last_status_code = @status_code, last_error = NULL,
                finished_at = now(), duration_ms = @duration_ms
            WHERE run_id = @run_id AND user_uid = @user_uid AND claimed_by = @claimed_by AND status = 'calling'
            """, runId, userUid);
        command.Parameters.AddWithValue("response_json", responseJson);
        command.Parameters.AddWithValue("status_code", statusCode);
        command.Parameters.AddWithValue("duration_ms", durationMs);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    public async Task RecordFailureAsync(Guid runId, string userUid, string error, int? statusCode, long durationMs, CancellationToken cancellationToken)
    {
        await using var command = Command("""
            UPDATE crew_caller.crew_calls
            SET status = 'failed', last_error = @error, last_status_code = @status_code, finished_at = now(), duration_ms = @duration_ms
            WHERE run_id = @run_id AND user_uid = @user_uid AND claimed_by = @claimed_by AND status = 'calling'
            """, runId, userUid);
        command.Parameters.AddWithValue("error", error);
        command.Parameters.AddWithValue("status_code", (object?)statusCode ?? DBNull.Value);
        command.Parameters.AddWithValue("duration_ms", durationMs);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Gives the claim up at once (shutdown mid-call), so the redelivered command is not kept waiting for the lease.</summary>
    public async Task ReleaseAsync(Guid runId, string userUid)
    {
        await using var command = Command("""
            UPDATE crew_caller.crew_calls SET lease_expires_at = now() - interval '1 millisecond'
            WHERE run_id = @run_id AND user_uid = @user_uid AND claimed_by = @claimed_by AND status = 'calling'
            """, runId, userUid);
        await command.ExecuteNonQueryAsync(CancellationToken.None);
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
