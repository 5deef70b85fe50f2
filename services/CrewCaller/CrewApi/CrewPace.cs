using CrewPlatform.Contracts;
using Npgsql;

namespace CrewPlatform.CrewCaller.CrewApi;

/// <summary>
/// Every endpoint's pace, shared by all CrewCaller instances through one row per endpoint in
/// <c>crew_caller.endpoint_pace</c>, on the database's clock. An endpoint with <c>CallsPerMinute</c> takes each start
/// from the row: allowed only when the row's next start and pause have passed, moving the next start 60 s / limit on
/// (strict spacing, so any 60 s window sees at most limit + 1 starts). A 429 pauses the endpoint for every instance;
/// an endpoint without a limit reads that pause from the row at most once a second, and only while it is called, so
/// its calls cost no round trip of their own.
/// </summary>
public sealed class CrewPace(NpgsqlDataSource dataSource, TimeProvider time)
{
    /// <summary>The longest a caller waits for a start before it asks the row again (a pause may have been lifted, a limit changed).</summary>
    public static readonly TimeSpan LongestWait = TimeSpan.FromSeconds(5);

    /// <summary>How often an endpoint without a limit reads its pause.</summary>
    public static readonly TimeSpan PauseRefresh = TimeSpan.FromSeconds(1);

    /// <summary>The shortest wait for a start that was refused.</summary>
    private static readonly TimeSpan MinimumWait = TimeSpan.FromMilliseconds(10);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Paused> paused = new(StringComparer.Ordinal);

    public static TimeSpan Capped(TimeSpan wait) => wait < LongestWait ? wait : LongestWait;

    /// <summary>Zero when the endpoint may start a call now (the start is taken), else how long until the row says it may.</summary>
    /// <param name="call">
    /// The command about to be claimed, if any: when its run is cancelled or its run's budget is used up, the claim will
    /// refuse it, so it takes no start and waits for none (a cancelled run's queued users drain at once, not at the rate).
    /// </param>
    public async Task<TimeSpan> TryStartAsync(CrewEndpoint endpoint, CancellationToken cancellationToken, RunCrewForUser? call = null)
    {
        if (endpoint.CallsPerMinute is not { } limit)
        {
            return await PausedForAsync(endpoint.Name, cancellationToken);
        }

        // Raw SQL: an upsert that takes the start only if it is due, on the database clock; else when it will be.
        await using var command = dataSource.CreateCommand("""
            WITH refused AS (
                SELECT EXISTS (SELECT 1 FROM crew_caller.cancelled_runs WHERE run_id = @run_id)
                    OR EXISTS (SELECT 1 FROM crew_caller.spend_scopes WHERE scope = @run_scope
                               AND (calls >= @max_calls::int OR spent + reserved >= @max_spend::numeric)) AS refused
            ), started AS (
                INSERT INTO crew_caller.endpoint_pace AS p (endpoint, next_start_at, paused_until)
                SELECT @endpoint, now() + @spacing, now() WHERE NOT (SELECT refused FROM refused)
                ON CONFLICT (endpoint) DO UPDATE SET next_start_at = now() + @spacing
                WHERE p.next_start_at <= now() AND p.paused_until <= now()
                RETURNING 1)
            SELECT (SELECT refused FROM refused) OR EXISTS (SELECT 1 FROM started),
                   COALESCE((SELECT GREATEST(next_start_at, paused_until) - now() FROM crew_caller.endpoint_pace WHERE endpoint = @endpoint), interval '0')
            """);
        command.Parameters.AddWithValue("endpoint", endpoint.Name);
        command.Parameters.AddWithValue("spacing", TimeSpan.FromMinutes(1) / limit);
        command.Parameters.AddWithValue("run_id", call?.RunId ?? Guid.Empty);
        command.Parameters.AddWithValue("run_scope", Persistence.CallSpend.RunScopeOf(call?.RunId ?? Guid.Empty));
        command.Parameters.AddWithValue("max_calls", NpgsqlTypes.NpgsqlDbType.Integer, (object?)call?.Budget?.MaxCalls ?? DBNull.Value);
        command.Parameters.AddWithValue("max_spend", NpgsqlTypes.NpgsqlDbType.Numeric, (object?)call?.Budget?.MaxSpend ?? DBNull.Value);
        await using var row = await command.ExecuteReaderAsync(cancellationToken);
        await row.ReadAsync(cancellationToken);

        // A start taken, or none needed. Refused although due by the statement's snapshot: another instance took that
        // start in the same instant.
        if (row.GetBoolean(0))
        {
            return TimeSpan.Zero;
        }

        var wait = row.GetFieldValue<TimeSpan>(1);
        return wait > MinimumWait ? wait : MinimumWait;
    }

    /// <summary>A 429: pauses the endpoint for every instance for <paramref name="pause"/> (a longer pause in place stays).</summary>
    public async Task PauseAsync(CrewEndpoint endpoint, TimeSpan pause, CancellationToken cancellationToken)
    {
        // Raw SQL: GREATEST on the database clock, so a shorter pause never cuts a longer one.
        await using var command = dataSource.CreateCommand("""
            INSERT INTO crew_caller.endpoint_pace AS p (endpoint, next_start_at, paused_until) VALUES (@endpoint, now(), now() + @pause)
            ON CONFLICT (endpoint) DO UPDATE SET paused_until = GREATEST(p.paused_until, EXCLUDED.paused_until)
            """);
        command.Parameters.AddWithValue("endpoint", endpoint.Name);
        command.Parameters.AddWithValue("pause", pause);
        await command.ExecuteNonQueryAsync(cancellationToken);
        paused.GetOrAdd(endpoint.Name, _ => new Paused()).Extend(time.GetTimestamp() + Ticks(pause));
    }

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * time.TimestampFrequency);

    private async Task<TimeSpan> PausedForAsync(string endpoint, CancellationToken cancellationToken)
    {
        var state = paused.GetOrAdd(endpoint, _ => new Paused());
        if (state.TryBeginRefresh(time.GetTimestamp(), Ticks(PauseRefresh)))
        {
            var left = TimeSpan.Zero;
            try
            {
                // Raw SQL: the pause left, on the database clock.
                await using var command = dataSource.CreateCommand(
                    "SELECT GREATEST(paused_until - now(), interval '0') FROM crew_caller.endpoint_pace WHERE endpoint = @endpoint");
                command.Parameters.AddWithValue("endpoint", endpoint);
                left = await command.ExecuteScalarAsync(cancellationToken) as TimeSpan? ?? TimeSpan.Zero;
            }
            finally
            {
                var now = time.GetTimestamp();
                state.EndRefresh(now, now + Ticks(left));
            }
        }

        var ticksLeft = state.Until - time.GetTimestamp();
        return ticksLeft > 0 ? TimeSpan.FromSeconds(ticksLeft / (double)time.TimestampFrequency) : TimeSpan.Zero;
    }

    /// <summary>An unlimited endpoint's pause as this instance last read (or set) it, in its own timestamps.</summary>
    private sealed class Paused
    {
        private readonly Lock gate = new();
        private long until;
        private long? refreshedAt;
        private bool refreshing;

        public long Until
        {
            get { lock (gate) { return until; } }
        }

        /// <summary>True for the one caller that reads the row now: none is reading it, and the last read is older than <paramref name="every"/>.</summary>
        public bool TryBeginRefresh(long now, long every)
        {
            lock (gate)
            {
                if (refreshing || now - refreshedAt < every)
                {
                    return false;
                }

                refreshing = true;
                return true;
            }
        }

        /// <summary>The row's pause, as read (a failed read keeps the pause this instance knows of).</summary>
        public void EndRefresh(long now, long readUntil)
        {
            lock (gate)
            {
                (refreshing, refreshedAt, until) = (false, now, Math.Max(until, readUntil));
            }
        }

        public void Extend(long newUntil)
        {
            lock (gate)
            {
                until = Math.Max(until, newUntil);
            }
        }
    }
}
