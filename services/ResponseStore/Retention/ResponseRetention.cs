using System.Diagnostics;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.ServiceDefaults.Retention;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CrewPlatform.ResponseStore.Retention;

/// <summary>
/// What one retention pass removed: answers past <c>CREW_RESPONSES_RETAIN_DAYS</c> (<see cref="ByAge"/>), answers beyond a
/// user's newest <c>CREW_RESPONSES_KEEP_PER_USER</c> that the age rule left (<see cref="ByPerUserCap"/>). <see cref="Ran"/> is
/// false when another replica held the pass. Run origins (one small row per run) are kept: deleting one whose run is still
/// storing answers would drop those answers out of the schedule and endpoint filters.
/// </summary>
public sealed record RetentionPass(bool Ran, long ByAge, long ByPerUserCap, TimeSpan Took)
{
    public static readonly RetentionPass NotThisReplica = new(false, 0, 0, TimeSpan.Zero);

    public long Deleted => ByAge + ByPerUserCap;
}

/// <summary>
/// Deletes the answers the retention settings no longer keep, in batches of <c>CREW_RESPONSES_RETENTION_BATCH</c> rows,
/// each batch one statement in its own short transaction, so the row locks of a batch are held only while it runs and
/// the batch writer keeps inserting meanwhile (it never touches an old row). One replica at a time: a transaction-scoped
/// advisory lock on a connection of its own, released when the pass ends or its connection dies; a replica that does not
/// get it skips the pass.
/// <para>
/// The rules: an answer whose <c>created_at</c> is before <c>now - CREW_RESPONSES_RETAIN_DAYS</c> goes (one exactly that
/// old stays); of each user's answers, those after the newest <c>CREW_RESPONSES_KEEP_PER_USER</c> (newest by
/// <c>created_at</c>, then the higher id) go. With both set an answer goes when either rule says so. An answer without
/// <c>created_at</c> (the host application's column allows it) has no age: neither rule deletes it, and it takes none of
/// a user's places.
/// </para>
/// </summary>
public sealed partial class ResponseRetention(
    NpgsqlDataSource dataSource,
    IOptions<ResponseStoreOptions> options,
    ResponseStoreMetrics metrics,
    ILogger<ResponseRetention> logger) : IRetentionPass
{
    /// <summary>The advisory lock of a pass: a key the other services of the shared database do not use ("CRWRETEN").</summary>
    public const long PassLockKey = 0x4352_5752_4554_454E;

    // The oldest first, read backwards off idx_crew_responses_created_at (created_at DESC, id DESC).
    // Raw SQL: a bounded DELETE .. WHERE id IN (SELECT .. LIMIT), which EF's ExecuteDelete cannot express with a limit.
    private const string DeleteByAgeSql = """
        DELETE FROM public.crew_responses
        WHERE id IN (SELECT id FROM public.crew_responses WHERE created_at < @cutoff ORDER BY created_at, id LIMIT @batch)
        """;

    // Users in order from @from (the last user the previous batch deleted from, who may have more to go): each user's
    // dated answers ranked newest first off idx_crew_responses_user_uid_created_at, those past @keep deleted. The
    // ranking streams in user order, so a batch stops at its limit instead of ranking the whole table.
    // Raw SQL: a window function over the index and a DELETE that reports where it stopped.
    private const string DeleteByCapSql = """
        WITH doomed AS (
            SELECT id FROM (
                SELECT id, user_uid,
                       row_number() OVER (PARTITION BY user_uid ORDER BY created_at DESC, id DESC) AS place
                FROM public.crew_responses
                WHERE created_at IS NOT NULL AND user_uid >= @from
            ) ranked
            WHERE place > @keep
            LIMIT @batch
        ),
        gone AS (
            DELETE FROM public.crew_responses c USING doomed d WHERE c.id = d.id RETURNING c.user_uid
        )
        SELECT count(*), max(user_uid) FROM gone
        """;

    private readonly ResponseStoreOptions settings = options.Value;

    public string Name => "answer retention";

    public bool Enabled => settings.RetentionEnabled;

    public TimeSpan Interval => TimeSpan.FromMinutes(settings.RetentionIntervalMinutes);

    async Task IRetentionPass.RunPassAsync(DateTimeOffset now, CancellationToken cancellationToken) => await RunOnceAsync(now, cancellationToken);

    /// <summary>
    /// One pass with <paramref name="now"/> as the present, in one replica at a time; logs and counts what it removed.
    /// Nothing is deleted when no rule is set.
    /// </summary>
    public async Task<RetentionPass> RunOnceAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!settings.RetentionEnabled)
        {
            return new RetentionPass(true, 0, 0, TimeSpan.Zero);
        }

        await using var passLock = await PassLock.TryTakeAsync(dataSource, PassLockKey, cancellationToken);
        if (passLock is null)
        {
            LogNotThisReplica(logger);
            return RetentionPass.NotThisReplica;
        }

        var started = Stopwatch.GetTimestamp();
        var byAge = settings.RetainDays is { } days ? await DeleteByAgeAsync(now.UtcDateTime.AddDays(-days), cancellationToken) : 0;
        var byCap = settings.KeepPerUser is { } keep ? await DeleteByCapAsync(keep, cancellationToken) : 0;
        var pass = new RetentionPass(true, byAge, byCap, Stopwatch.GetElapsedTime(started));

        metrics.RetentionDeleted(pass);
        LogPass(logger, pass.ByAge, pass.ByPerUserCap, (long)pass.Took.TotalMilliseconds);
        return pass;
    }

    // created_at is a timestamp without time zone holding UTC.
    private Task<long> DeleteByAgeAsync(DateTime cutoff, CancellationToken cancellationToken) =>
        BatchedDelete.UntilDoneAsync(
            dataSource,
            DeleteByAgeSql,
            settings.RetentionBatch,
            parameters => parameters.Add(new NpgsqlParameter<DateTime>("cutoff", DateTime.SpecifyKind(cutoff, DateTimeKind.Unspecified)) { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Timestamp }),
            cancellationToken);

    private async Task<long> DeleteByCapAsync(int keep, CancellationToken cancellationToken)
    {
        long deleted = 0;
        var from = "";
        while (true)
        {
            await using var delete = dataSource.CreateCommand(DeleteByCapSql);
            delete.Parameters.Add(new NpgsqlParameter<string>("from", from));
            delete.Parameters.Add(new NpgsqlParameter<int>("keep", keep));
            delete.Parameters.Add(new NpgsqlParameter<int>("batch", settings.RetentionBatch));
            long rows;
            await using (var reader = await delete.ExecuteReaderAsync(cancellationToken))
            {
                await reader.ReadAsync(cancellationToken);
                rows = reader.GetInt64(0);
                from = reader.IsDBNull(1) ? from : reader.GetString(1);
            }

            deleted += rows;
            if (rows < settings.RetentionBatch)
            {
                return deleted;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Answer retention pass: {ByAge} deleted by age, {ByPerUserCap} by the per-user cap, in {DurationMs} ms")]
    private static partial void LogPass(ILogger logger, long byAge, long byPerUserCap, long durationMs);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Answer retention pass skipped: another replica holds it")]
    private static partial void LogNotThisReplica(ILogger logger);
}
