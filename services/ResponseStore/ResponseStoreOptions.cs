using System.ComponentModel.DataAnnotations;

namespace CrewPlatform.ResponseStore;

/// <summary>
/// The ResponseStore's settings, read from the top-level <c>CREW_RESPONSES_*</c> keys (environment variables of the same
/// name). Validated at startup: a bad value stops the service with a message naming the setting.
/// </summary>
public sealed class ResponseStoreOptions
{
    public const int MaxSearchTimeoutMs = 600_000;

    public const int MaxRetainDays = 36_500;

    public const int MaxKeepPerUser = 1_000_000;

    public const int MaxRetentionIntervalMinutes = 10_080;

    public const int MaxRetentionBatch = 100_000;

    /// <summary>
    /// How long one search of the list (<c>jsonPath</c> or <c>q</c>) may run in PostgreSQL: its statements run under
    /// <c>SET LOCAL statement_timeout</c>, and one that runs out answers 422 instead of holding a connection.
    /// </summary>
    [ConfigurationKeyName("CREW_RESPONSES_SEARCH_TIMEOUT_MS")]
    [Range(1, MaxSearchTimeoutMs, ErrorMessage = "CREW_RESPONSES_SEARCH_TIMEOUT_MS must be a whole number from 1 to 600000")]
    public int SearchTimeoutMs { get; set; } = 5_000;

    /// <summary>
    /// Answers whose <c>created_at</c> is more than this many days before now are deleted by the retention pass; unset keeps
    /// them for ever. An answer without <c>created_at</c> is never deleted for its age.
    /// </summary>
    [ConfigurationKeyName("CREW_RESPONSES_RETAIN_DAYS")]
    [Range(1, MaxRetainDays, ErrorMessage = "CREW_RESPONSES_RETAIN_DAYS must be a whole number of days from 1 to 36500")]
    public int? RetainDays { get; set; }

    /// <summary>
    /// Only the newest this many answers of each user (by <c>created_at</c>, then id) are kept; unset keeps them all.
    /// With <see cref="RetainDays"/> too, an answer goes when either rule says so.
    /// </summary>
    [ConfigurationKeyName("CREW_RESPONSES_KEEP_PER_USER")]
    [Range(1, MaxKeepPerUser, ErrorMessage = "CREW_RESPONSES_KEEP_PER_USER must be a whole number from 1 to 1000000")]
    public int? KeepPerUser { get; set; }

    /// <summary>How often the retention pass runs (when a rule is set); the first pass runs at startup.</summary>
    [ConfigurationKeyName("CREW_RESPONSES_RETENTION_INTERVAL_MINUTES")]
    [Range(1, MaxRetentionIntervalMinutes, ErrorMessage = "CREW_RESPONSES_RETENTION_INTERVAL_MINUTES must be a whole number from 1 to 10080")]
    public int RetentionIntervalMinutes { get; set; } = 60;

    /// <summary>Rows one retention statement deletes, each batch its own short transaction.</summary>
    [ConfigurationKeyName("CREW_RESPONSES_RETENTION_BATCH")]
    [Range(1, MaxRetentionBatch, ErrorMessage = "CREW_RESPONSES_RETENTION_BATCH must be a whole number from 1 to 100000")]
    public int RetentionBatch { get; set; } = 1_000;

    /// <summary>Whether any retention rule is set: without one, nothing is ever deleted.</summary>
    public bool RetentionEnabled => RetainDays is not null || KeepPerUser is not null;
}
