using CrewPlatform.ServiceDefaults.Retention;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CrewPlatform.Webhooks.Retention;

/// <summary>
/// The Webhooks' run history (<c>CREW_RUN_HISTORY_RETAIN_DAYS</c>): deliveries the receiver accepted more than that many
/// days before now (<c>delivered_at</c>, oldest first off <c>ix_deliveries_delivered_at</c>) with their attempts, the
/// attempts first in batches and then the deliveries left without attempts. A delivery is finished only once delivered:
/// one that failed stays due (every 8 h at the end of the retry schedule) and one of a disabled subscription waits for it
/// to be enabled again, so a pending or leased delivery (<c>next_attempt_at</c> or <c>lease_until</c> set) is never
/// deleted, whatever its age. A deleted delivery's event, were it redelivered by the broker afterwards, would be sent again.
/// </summary>
public sealed class DeliveryRetention(
    NpgsqlDataSource dataSource,
    IOptions<RunHistoryRetentionOptions> options,
    RunHistoryRetentionMetrics metrics,
    ILogger<DeliveryRetention> logger) : RunHistoryRetention(dataSource, options, metrics, logger)
{
    /// <summary>The pass's advisory lock ("CRWHWEBH").</summary>
    public const long Key = 0x4352_5748_5745_4248;

    private const string Delivered = "d.delivered_at < @cutoff AND d.next_attempt_at IS NULL AND d.lease_until IS NULL";

    // Raw SQL: bounded deletes (DELETE .. USING a LIMITed select), which EF's ExecuteDelete cannot express with a limit.
    private static readonly IReadOnlyList<RetentionStep> Deletes =
    [
        new("delivery_attempts", $"""
            DELETE FROM webhooks.delivery_attempts a USING (
                SELECT da.id FROM webhooks.deliveries d JOIN webhooks.delivery_attempts da ON da.delivery_id = d.id
                WHERE {Delivered}
                LIMIT @batch) doomed
            WHERE a.id = doomed.id
            """),
        new("deliveries", $"""
            DELETE FROM webhooks.deliveries d USING (
                SELECT d.id FROM webhooks.deliveries d
                WHERE {Delivered} AND NOT EXISTS (SELECT 1 FROM webhooks.delivery_attempts a WHERE a.delivery_id = d.id)
                ORDER BY d.delivered_at
                LIMIT @batch) doomed
            WHERE d.id = doomed.id AND {Delivered}
            """),
    ];

    protected override long PassLockKey => Key;

    protected override IReadOnlyList<RetentionStep> Steps => Deletes;
}
