using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Scheduling;
using CrewPlatform.ServiceDefaults.Retention;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CrewPlatform.Scheduler.Retention;

/// <summary>
/// The Scheduler's run history (<c>CREW_RUN_HISTORY_RETAIN_DAYS</c>): finished runs (completed, cancelled, skipped, and the
/// failed of earlier versions) whose completion (a skipped run's: its due time's record) is more than that many days
/// before now, with their <c>run_users</c>, the users first in batches and then the runs left without users, so no
/// statement cascades into a whole run's users.
/// <para>
/// Kept whatever their age: a running run (the overlap policy, the reconciler, cancel and the stale limit read only
/// running runs; a run reopened by <c>retry-failed</c> is running again), a completion not yet announced (the
/// reconciler publishes it from the row), each schedule's latest run (the schedule's <c>lastRun</c>), and every run
/// started this UTC month (<c>spentToday</c>, <c>spentThisMonth</c> and the daily budget sum the spend of this month's
/// runs). Nothing else refers to a run: the schedule rows hold no run id, <c>run_users</c> is the only table with a
/// foreign key to <c>runs</c>, and a run the pass deleted answers 404 like any unknown run. A <c>retry-failed</c> of a run
/// while the pass is deleting its users reopens it with the failed users still there; the run then stays.
/// </para>
/// </summary>
public sealed class RunRetention(
    NpgsqlDataSource dataSource,
    IOptions<RunHistoryRetentionOptions> options,
    RunHistoryRetentionMetrics metrics,
    ILogger<RunRetention> logger) : RunHistoryRetention(dataSource, options, metrics, logger)
{
    /// <summary>The pass's advisory lock ("CRWHSCHD"), apart from the reconciler's and every other service's.</summary>
    public const long Key = 0x4352_5748_5343_4844;

    // Which runs have gone; alias r. The (schedule_id, started_at) index answers the newer-run check.
    private const string Expired = $"""
        r.status IN ('{RunStatus.Completed}', '{RunStatus.Cancelled}', '{RunStatus.Skipped}', '{RunStatus.Failed}')
        AND coalesce(r.completed_at, r.started_at) < @cutoff
        AND r.started_at < @month_start
        AND (r.status NOT IN ('{RunStatus.Completed}', '{RunStatus.Cancelled}') OR r.completion_published_at IS NOT NULL)
        AND (r.schedule_id IS NULL OR EXISTS (
            SELECT 1 FROM scheduler.runs newer
            WHERE newer.schedule_id = r.schedule_id AND (newer.started_at, newer.id) > (r.started_at, r.id)))
        """;

    // Raw SQL: bounded deletes (DELETE .. USING a LIMITed select), which EF's ExecuteDelete cannot express with a limit.
    private static readonly IReadOnlyList<RetentionStep> Deletes =
    [
        new("run_users", $"""
            DELETE FROM scheduler.run_users u USING (
                SELECT ru.run_id, ru.user_uid FROM scheduler.runs r JOIN scheduler.run_users ru ON ru.run_id = r.id
                WHERE {Expired}
                LIMIT @batch) doomed
            WHERE u.run_id = doomed.run_id AND u.user_uid = doomed.user_uid
            """),

        // The status is checked again on the row itself: a run retry-failed reopened meanwhile is running, and stays.
        new("runs", $"""
            DELETE FROM scheduler.runs run WHERE run.id IN (
                SELECT r.id FROM scheduler.runs r
                WHERE {Expired} AND NOT EXISTS (SELECT 1 FROM scheduler.run_users u WHERE u.run_id = r.id)
                ORDER BY coalesce(r.completed_at, r.started_at), r.id
                LIMIT @batch)
              AND run.status <> '{RunStatus.Running}'
            """),
    ];

    protected override long PassLockKey => Key;

    protected override IReadOnlyList<RetentionStep> Steps => Deletes;

    protected override void Bind(NpgsqlParameterCollection parameters, DateTimeOffset now) =>
        parameters.Add(new NpgsqlParameter<DateTimeOffset>("month_start", ScheduleMath.StartOfUtcMonth(now)));
}
