using System.ComponentModel.DataAnnotations;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.ServiceDefaults;

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
/// The scheduler's settings, read from the top-level <c>CREW_SCHEDULER_*</c> keys (environment variables of the same
/// name). Validated at startup: a bad value stops the service with a message naming the setting rather than silently
/// falling back to a default. Interval and autostart only seed a fresh install; afterwards the schedule stored in
/// PostgreSQL wins.
/// </summary>
public sealed class SchedulerOptions : IValidatableObject
{
    public const int MaxIntervalMinutes = 10080;
    public const int MaxPageSize = 10000;

    [ConfigurationKeyName("CREW_SCHEDULER_INTERVAL_MINUTES")]
    [Range(1, MaxIntervalMinutes, ErrorMessage = "CREW_SCHEDULER_INTERVAL_MINUTES must be a whole number from 1 to 10080")]
    public int InitialIntervalMinutes { get; set; } = 60;

    [ConfigurationKeyName("CREW_SCHEDULER_AUTOSTART")]
    public bool Autostart { get; set; }

    /// <summary><c>skip</c> or <c>allow</c>, in any case (the binder parses enum names case-insensitively).</summary>
    [ConfigurationKeyName("CREW_SCHEDULER_OVERLAP")]
    [EnumDataType(typeof(OverlapPolicy), ErrorMessage = "CREW_SCHEDULER_OVERLAP must be 'skip' or 'allow'")]
    public OverlapPolicy Overlap { get; set; } = OverlapPolicy.Skip;

    [ConfigurationKeyName("CREW_SCHEDULER_PAGE_SIZE")]
    [Range(1, MaxPageSize, ErrorMessage = "CREW_SCHEDULER_PAGE_SIZE must be a whole number from 1 to 10000")]
    public int PageSize { get; set; } = 500;

    [ConfigurationKeyName("CREW_SCHEDULER_TICK_SECONDS")]
    [Range(1, 59, ErrorMessage = "CREW_SCHEDULER_TICK_SECONDS must be a whole number from 1 to 59")]
    public int TickSeconds { get; set; } = 5;

    /// <summary>
    /// A run that has recorded no page and no outcome for this long no longer makes due times skip: a run whose
    /// outcomes are lost or parked must not stop the schedule for good, while a long run that keeps progressing does.
    /// </summary>
    [ConfigurationKeyName("CREW_SCHEDULER_RUN_STALE_AFTER_MINUTES")]
    [Range(1, 525600, ErrorMessage = "CREW_SCHEDULER_RUN_STALE_AFTER_MINUTES must be a whole number from 1 to 525600")]
    public int RunStaleAfterMinutes { get; set; } = 60;

    /// <summary>How often the run reconciler makes its pass (one replica at a time).</summary>
    [ConfigurationKeyName("CREW_SCHEDULER_RECONCILE_SECONDS")]
    [Range(1, 3600, ErrorMessage = "CREW_SCHEDULER_RECONCILE_SECONDS must be a whole number from 1 to 3600")]
    public int ReconcileSeconds { get; set; } = 10;

    /// <summary>A fan-out that has recorded no page for this long is re-driven from its stored cursor.</summary>
    [ConfigurationKeyName("CREW_SCHEDULER_FANOUT_STALL_SECONDS")]
    [Range(1, 3600, ErrorMessage = "CREW_SCHEDULER_FANOUT_STALL_SECONDS must be a whole number from 1 to 3600")]
    public int FanOutStallSeconds { get; set; } = 30;

    /// <summary>
    /// A fanned-out run that has recorded no outcome for this long gets its still-dispatched users' commands again.
    /// Long, because a crew call may take ten minutes; a re-send is harmless (the crew caller's ledger) but not free.
    /// </summary>
    [ConfigurationKeyName("CREW_SCHEDULER_REDISPATCH_AFTER_MINUTES")]
    [Range(1, 1440, ErrorMessage = "CREW_SCHEDULER_REDISPATCH_AFTER_MINUTES must be a whole number from 1 to 1440")]
    public int RedispatchAfterMinutes { get; set; } = 15;

    /// <summary>The unit of every price and budget, only a label: shown as <c>currency</c> next to spend.</summary>
    [ConfigurationKeyName("CREW_COST_CURRENCY")]
    [RegularExpression("^[A-Za-z0-9$€£¥._-]{1,16}$", ErrorMessage = "CREW_COST_CURRENCY must be 1 to 16 letters, digits or currency signs, e.g. USD")]
    public string CostCurrency { get; set; } = "USD";

    /// <summary>The default endpoint's fixed price per call, for a preview's expected spend when the endpoint has no priced history.</summary>
    [ConfigurationKeyName("CREW_COST_PER_CALL")]
    [Range(0, 1e12, ErrorMessage = "CREW_COST_PER_CALL must be a number of 0 or more")]
    public decimal? CostPerCall { get; set; }

    /// <summary>The default endpoint's calls in flight per CrewCaller instance, for a preview's expected duration.</summary>
    [ConfigurationKeyName("CREW_MAX_CONCURRENCY")]
    [Range(1, 1_000, ErrorMessage = "CREW_MAX_CONCURRENCY must be between 1 and 1000")]
    public int MaxConcurrency { get; set; } = 8;

    /// <summary>The default endpoint's rate limit, for a preview's expected duration; null: no limit.</summary>
    [ConfigurationKeyName("CREW_CALLS_PER_MINUTE")]
    [Range(1, 1_000_000, ErrorMessage = "CREW_CALLS_PER_MINUTE must be a whole number from 1 to 1000000")]
    public int? CallsPerMinute { get; set; }

    /// <summary>Only reported (as <c>apiUrl</c>); CrewCaller is the one that calls it.</summary>
    [ConfigurationKeyName(CrewApiSettings.UrlKey)]
    public string ApiUrl { get; set; } = CrewApiSettings.DefaultUrl;

    /// <summary>Named filters over the host's <c>users</c> table (<c>CREW_SEGMENTS__{name}__Column</c> ...); <c>all</c> is built in.</summary>
    [ConfigurationKeyName("CREW_SEGMENTS")]
    public Dictionary<string, SegmentDefinition>? Segments { get; set; }

    /// <summary>The crew endpoints besides the default one; the Scheduler checks a schedule's endpoint against these names.</summary>
    [ConfigurationKeyName("CREW_ENDPOINTS")]
    public Dictionary<string, CrewEndpointDefinition>? Endpoints { get; set; }

    /// <summary>Every endpoint a schedule may name: <c>default</c> and the configured ones.</summary>
    public IReadOnlySet<string> EndpointNames() =>
        new HashSet<string>((Endpoints?.Keys.AsEnumerable() ?? []).Append(Contracts.CrewEndpointNames.Default), StringComparer.Ordinal);

    /// <summary>The crew caller's queue of every endpoint a schedule may name at every priority: where a run's commands may go.</summary>
    public IEnumerable<string> CommandQueues() => Contracts.QueueNames.RunCrewForUserQueues(EndpointNames()).Select(q => q.Queue);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) =>
        CrewEndpointDefinition.Problems(Endpoints)
            .Concat(SegmentDefinition.Problems(Segments))
            .Select(problem => new ValidationResult(problem));
}
