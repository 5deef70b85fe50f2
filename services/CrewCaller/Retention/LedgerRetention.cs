using CrewPlatform.CrewCaller.Persistence;
using CrewPlatform.ServiceDefaults.Retention;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CrewPlatform.CrewCaller.Retention;

/// <summary>
/// The CrewCaller's run history (<c>CREW_RUN_HISTORY_RETAIN_DAYS</c>): ledger rows whose outcome (succeeded, failed,
/// skipped) was recorded more than that many days before now, oldest first off <c>ix_crew_calls_finished_at</c>; then the
/// spend scopes no budget reads any more: a run's (<c>run:{id}</c>) once none of its ledger rows is left, a day's
/// (<c>schedule:{id}:{day}</c>, <c>run:{id}:{day}</c>) once that whole UTC day ended more than that many days ago, either
/// only while nothing is reserved in it; then the cancel marks of runs cancelled that long ago whose ledger rows are gone.
/// <para>
/// A claimed row (<c>calling</c>, a call in flight or a crashed instance's claim not yet taken over) is never deleted, and
/// a failed row a replay reclaims meanwhile is checked again on the row itself. Deleting a finished row has one
/// consequence, the reason for <see cref="RunHistoryRetentionOptions.MinRetainDays"/>: a command for that (run, user)
/// arriving afterwards finds no ledger row and calls the crew again. <c>endpoint_pace</c> (one row per endpoint) is
/// never touched.
/// </para>
/// </summary>
public sealed class LedgerRetention(
    NpgsqlDataSource dataSource,
    IOptions<RunHistoryRetentionOptions> options,
    RunHistoryRetentionMetrics metrics,
    ILogger<LedgerRetention> logger) : RunHistoryRetention(dataSource, options, metrics, logger)
{
    /// <summary>The pass's advisory lock ("CRWHCALL").</summary>
    public const long Key = 0x4352_5748_4341_4C4C;

    // Raw SQL: bounded deletes (DELETE .. USING a LIMITed select), which EF's ExecuteDelete cannot express with a limit.
    private static readonly IReadOnlyList<RetentionStep> Deletes =
    [
        new("crew_calls", $"""
            DELETE FROM crew_caller.crew_calls c USING (
                SELECT run_id, user_uid FROM crew_caller.crew_calls
                WHERE status <> '{CrewCallStatus.Calling}' AND finished_at < @cutoff
                ORDER BY finished_at
                LIMIT @batch) doomed
            WHERE c.run_id = doomed.run_id AND c.user_uid = doomed.user_uid
              AND c.status <> '{CrewCallStatus.Calling}' AND c.finished_at < @cutoff
            """),
        new("spend_scopes", """
            DELETE FROM crew_caller.spend_scopes s WHERE s.scope IN (
                SELECT scope FROM crew_caller.spend_scopes
                WHERE reserved = 0 AND (
                    (scope ~ ':\d{4}-\d{2}-\d{2}$'
                     AND substring(scope from ':(\d{4}-\d{2}-\d{2})$')::date < (@cutoff AT TIME ZONE 'UTC')::date)
                    OR (scope ~ '^run:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                        AND NOT EXISTS (SELECT 1 FROM crew_caller.crew_calls c WHERE c.run_id = substr(scope, 5)::uuid)))
                LIMIT @batch)
              AND s.reserved = 0
            """),
        new("cancelled_runs", """
            DELETE FROM crew_caller.cancelled_runs m WHERE m.run_id IN (
                SELECT r.run_id FROM crew_caller.cancelled_runs r
                WHERE r.cancelled_at < @cutoff AND NOT EXISTS (SELECT 1 FROM crew_caller.crew_calls c WHERE c.run_id = r.run_id)
                LIMIT @batch)
            """),
    ];

    protected override long PassLockKey => Key;

    protected override IReadOnlyList<RetentionStep> Steps => Deletes;
}
