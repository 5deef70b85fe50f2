using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using CrewPlatform.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection;

namespace CrewPlatform.Testing;

/// <summary>
/// Records what one service instance's <c>&lt;Service&gt;Metrics</c> report: only meters its own container's
/// <see cref="IMeterFactory"/> made, so another test's service in the same process never adds to the counts.
/// </summary>
public sealed class MetricRecorder : IDisposable
{
    private readonly MeterListener listener = new();
    private readonly ConcurrentQueue<(string Instrument, double Value, KeyValuePair<string, object?>[] Tags)> measurements = new();

    public MetricRecorder(IServiceProvider services)
    {
        var factory = services.GetRequiredService<IMeterFactory>();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Meter.Name.StartsWith(PlatformMeters.Prefix, StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
        listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Add(instrument, value, tags));
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
        listener.Start();
    }

    /// <summary>The sum of the values recorded on <paramref name="instrument"/> whose tags include every one of <paramref name="tags"/>.</summary>
    public double Sum(string instrument, params (string Name, string Value)[] tags) => Matching(instrument, tags).Sum(m => m.Value);

    /// <summary>How many values were recorded (for a histogram: how many observations).</summary>
    public int Count(string instrument, params (string Name, string Value)[] tags) => Matching(instrument, tags).Count();

    /// <summary>The values recorded on <paramref name="instrument"/>, in order.</summary>
    public IReadOnlyList<double> Values(string instrument, params (string Name, string Value)[] tags) => Matching(instrument, tags).Select(m => m.Value).ToList();

    /// <summary>What the observable gauge <paramref name="instrument"/> reports now, or null when it reports nothing.</summary>
    public double? Observe(string instrument, params (string Name, string Value)[] tags)
    {
        var before = measurements.Count;
        listener.RecordObservableInstruments();
        var observed = measurements.Skip(before).Where(m => m.Instrument == instrument && HasTags(m.Tags, tags)).ToList();
        return observed.Count == 0 ? null : observed[^1].Value;
    }

    public void Dispose() => listener.Dispose();

    private IEnumerable<(string Instrument, double Value, KeyValuePair<string, object?>[] Tags)> Matching(string instrument, (string Name, string Value)[] tags) =>
        measurements.Where(m => m.Instrument == instrument && HasTags(m.Tags, tags));

    private static bool HasTags(KeyValuePair<string, object?>[] recorded, (string Name, string Value)[] wanted) =>
        wanted.All(w => recorded.Any(r => r.Key == w.Name && Equals(r.Value, w.Value)));

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
        measurements.Enqueue((instrument.Name, value, tags.ToArray()));
}
