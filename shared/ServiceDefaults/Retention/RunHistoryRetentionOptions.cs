using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace CrewPlatform.ServiceDefaults.Retention;

/// <summary>
/// How long run history is kept: the Scheduler's runs and their users, the CrewCaller's call ledger, the Webhooks'
/// deliveries and their attempts. The same top-level <c>CREW_RUN_HISTORY_*</c> keys in each of those services, each
/// deleting only its own tables. Validated at startup: a bad value stops the service with a message naming the setting.
/// </summary>
public sealed class RunHistoryRetentionOptions
{
    /// <summary>
    /// The least a run's history may be kept. The call ledger is what keeps a redelivered command from paying for its call
    /// again, so its rows must outlive every redelivery by far: the reconciler re-sends a running run's commands after at
    /// most <c>CREW_SCHEDULER_REDISPATCH_AFTER_MINUTES</c> (1440 at most), and RabbitMQ redelivers an unacknowledged
    /// command as soon as its consumer's connection is gone.
    /// </summary>
    public const int MinRetainDays = 2;

    public const int MaxRetainDays = 36_500;

    public const int MaxIntervalMinutes = 10_080;

    public const int MaxBatch = 100_000;

    /// <summary>
    /// Finished run history whose end (a run's completion, a call's recorded outcome, a delivery's success) is more than
    /// this many days before now is deleted; unset keeps it for ever.
    /// </summary>
    [ConfigurationKeyName("CREW_RUN_HISTORY_RETAIN_DAYS")]
    [Range(MinRetainDays, MaxRetainDays, ErrorMessage = "CREW_RUN_HISTORY_RETAIN_DAYS must be a whole number of days from 2 to 36500")]
    public int? RetainDays { get; set; }

    /// <summary>How often the pass runs (when <see cref="RetainDays"/> is set); the first pass runs at startup.</summary>
    [ConfigurationKeyName("CREW_RUN_HISTORY_RETENTION_INTERVAL_MINUTES")]
    [Range(1, MaxIntervalMinutes, ErrorMessage = "CREW_RUN_HISTORY_RETENTION_INTERVAL_MINUTES must be a whole number from 1 to 10080")]
    public int IntervalMinutes { get; set; } = 60;

    /// <summary>Rows one retention statement deletes, each batch its own short transaction.</summary>
    [ConfigurationKeyName("CREW_RUN_HISTORY_RETENTION_BATCH")]
    [Range(1, MaxBatch, ErrorMessage = "CREW_RUN_HISTORY_RETENTION_BATCH must be a whole number from 1 to 100000")]
    public int Batch { get; set; } = 1_000;
}
