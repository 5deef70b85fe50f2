using CrewPlatform.ServiceDefaults;
using System.Globalization;

namespace CrewPlatform.Scheduler;

/// <summary>What to do with a due time while the previous run has not completed.</summary>
public enum OverlapPolicy
{
    /// <summary>Record the due time as a skipped run and start nothing.</summary>
    Skip,

    /// <summary>Start the run anyway; runs then overlap.</summary>
    Allow,
}

/// <summary>
/// The scheduler's settings, read once at startup from flat keys (environment variables of the same name).
/// Interval and autostart only seed a fresh install; afterwards the schedule stored in PostgreSQL wins.
/// </summary>
public sealed record SchedulerSettings
{
    public const int MaxIntervalMinutes = 10080;
    public const int MaxPageSize = 10000;

    public int InitialIntervalMinutes { get; init; } = 60;
    public bool Autostart { get; init; }
    public OverlapPolicy Overlap { get; init; } = OverlapPolicy.Skip;
    public int PageSize { get; init; } = 500;
    public int TickSeconds { get; init; } = 5;

    /// <summary>
    /// A run that has recorded no page and no outcome for this long no longer makes due times skip: a run whose
    /// outcomes are lost or parked must not stop the schedule for good, while a long run that keeps progressing does.
    /// </summary>
    public int RunStaleAfterMinutes { get; init; } = 60;

    /// <summary>How often the run reconciler makes its pass (one replica at a time).</summary>
    public int ReconcileSeconds { get; init; } = 10;

    /// <summary>A fan-out that has recorded no page for this long is re-driven from its stored cursor.</summary>
    public int FanOutStallSeconds { get; init; } = 30;

    /// <summary>
    /// A fanned-out run that has recorded no outcome for this long gets its still-dispatched users' commands again.
    /// Long, because a crew call may take ten minutes; a re-send is harmless (the crew caller's ledger) but not free.
    /// </summary>
    public int RedispatchAfterMinutes { get; init; } = 15;
    public string ApiUrl { get; init; } = CrewApiSettings.DefaultUrl;

    public static SchedulerSettings From(IConfiguration configuration) => new()
    {
        InitialIntervalMinutes = Int(configuration, "CREW_SCHEDULER_INTERVAL_MINUTES", 60, 1, MaxIntervalMinutes),
        Autostart = Bool(configuration, "CREW_SCHEDULER_AUTOSTART"),
        Overlap = configuration["CREW_SCHEDULER_OVERLAP"]?.Trim().ToLowerInvariant() switch
        {
            null or "" or "skip" => OverlapPolicy.Skip,
            "allow" => OverlapPolicy.Allow,
            var other => throw new InvalidOperationException($"CREW_SCHEDULER_OVERLAP must be 'skip' or 'allow', not '{other}'"),
        },
        PageSize = Int(configuration, "CREW_SCHEDULER_PAGE_SIZE", 500, 1, MaxPageSize),
        TickSeconds = Int(configuration, "CREW_SCHEDULER_TICK_SECONDS", 5, 1, 59),
        RunStaleAfterMinutes = Int(configuration, "CREW_SCHEDULER_RUN_STALE_AFTER_MINUTES", 60, 1, 525600),
        ReconcileSeconds = Int(configuration, "CREW_SCHEDULER_RECONCILE_SECONDS", 10, 1, 3600),
        FanOutStallSeconds = Int(configuration, "CREW_SCHEDULER_FANOUT_STALL_SECONDS", 30, 1, 3600),
        RedispatchAfterMinutes = Int(configuration, "CREW_SCHEDULER_REDISPATCH_AFTER_MINUTES", 15, 1, 1440),
        ApiUrl = configuration[CrewApiSettings.UrlKey] is { Length: > 0 } url ? url : CrewApiSettings.DefaultUrl,
    };

    // A bad value fails the start with the variable's name rather than silently falling back to a default.
    private static int Int(IConfiguration configuration, string key, int fallback, int min, int max)
    {
        var raw = configuration[key];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return fallback;
        }

        return int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new InvalidOperationException($"{key} must be a whole number from {min} to {max}, not '{raw}'");
    }

    private static bool Bool(IConfiguration configuration, string key)
    {
        var raw = configuration[key];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return false;
        }

        return bool.TryParse(raw, out var value)
            ? value
            : throw new InvalidOperationException($"{key} must be 'true' or 'false', not '{raw}'");
    }
}
