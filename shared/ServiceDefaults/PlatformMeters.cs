using System.Diagnostics.Metrics;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// What every service's <c>&lt;Service&gt;Metrics</c> class shares. Instruments are named the Prometheus way without the
/// suffixes the exporter adds itself: a counter <c>crew_calls</c> is scraped as <c>crew_calls_total</c>, a histogram
/// <c>crew_call_duration</c> with unit <c>s</c> as <c>crew_call_duration_seconds</c>.
/// </summary>
public static class PlatformMeters
{
    /// <summary>Every meter of ours starts with this, so <c>AddMeter("CrewPlatform.*")</c> exports them all.</summary>
    public const string Prefix = "CrewPlatform.";

    /// <summary>Bucket bounds in seconds for crew calls and runs: a crew call takes 20 s to 10 minutes, a run much longer.</summary>
    public static readonly IReadOnlyList<double> LongDurationBuckets =
        [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 180, 300, 450, 600, 900, 1800, 3600, 7200, 14400];

    public static Meter Create(IMeterFactory meterFactory, string service) => meterFactory.Create(Prefix + service);

    public static InstrumentAdvice<double> SecondsAdvice { get; } = new() { HistogramBucketBoundaries = LongDurationBuckets };
}
