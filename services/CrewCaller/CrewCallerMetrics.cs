using System.Diagnostics.Metrics;
using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.ServiceDefaults;

namespace CrewPlatform.CrewCaller;

/// <summary>CrewCaller's metrics, each defined here once; the consumer reports with one call per event.</summary>
public sealed class CrewCallerMetrics
{
    private readonly Counter<long> calls;
    private readonly Histogram<double> callDuration;
    private readonly UpDownCounter<long> callsInFlight;
    private readonly Counter<long> retries;
    private readonly Counter<double> spend;

    public CrewCallerMetrics(IMeterFactory meterFactory, CrewEndpoints endpoints)
    {
        var meter = PlatformMeters.Create(meterFactory, "CrewCaller");
        calls = meter.CreateCounter<long>("crew_calls", description:
            "Crew calls (one per run and user) by outcome: succeeded, rejected (a permanent failure: 4xx, not JSON, too large), gave_up (transient failures until CREW_MAX_ATTEMPTS)");
        callDuration = meter.CreateHistogram("crew_call_duration", "s",
            "Duration of a crew call from its first attempt to its outcome, retries included, by outcome", advice: PlatformMeters.SecondsAdvice);
        callsInFlight = meter.CreateUpDownCounter<long>("crew_calls_in_flight", description:
            "Crew calls this instance is making now, waits between attempts and at an open circuit included");
        retries = meter.CreateCounter<long>("crew_retries", description:
            "Attempts that failed transiently and are retried, by reason: timeout, connection_error or http_<status>");
        spend = meter.CreateCounter<double>("crew_spend", description:
            "What crew calls cost (the answer's own figure or the endpoint's price, in CREW_COST_CURRENCY), by endpoint and schedule (its id, or none)");
        meter.CreateObservableGauge("crew_circuit_open", () => endpoints.All.Select(endpoint => new Measurement<int>(
                endpoint.Circuit.State == CrewApiCircuitState.Closed ? 0 : 1, new KeyValuePair<string, object?>("endpoint", endpoint.Name))),
            description: "1 while the circuit in front of a crew endpoint (label endpoint, \"default\" for CREW_API_URL) is open or probing, 0 while closed");
    }

    /// <summary>Counts a call in flight until disposed.</summary>
    public IDisposable CallInFlight()
    {
        callsInFlight.Add(1);
        return new InFlight(callsInFlight);
    }

    /// <summary>A call reached its recorded outcome: the answer, or the failure of its last attempt.</summary>
    public void CallFinished(CrewAttemptResult last, TimeSpan duration)
    {
        var outcome = new KeyValuePair<string, object?>("outcome", last.Outcome switch
        {
            CrewAttemptOutcome.Answered => "succeeded",
            CrewAttemptOutcome.Permanent => "rejected",
            _ => "gave_up",
        });
        calls.Add(1, outcome);
        callDuration.Record(duration.TotalSeconds, outcome);
    }

    /// <summary>A recorded call's cost; nothing when it is unknown.</summary>
    public void Spent(string endpoint, int? scheduleId, decimal? cost)
    {
        if (cost is { } amount)
        {
            spend.Add((double)amount, new KeyValuePair<string, object?>("endpoint", endpoint),
                new KeyValuePair<string, object?>("schedule", scheduleId?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"));
        }
    }

    public void Retrying(CrewAttemptResult failed) =>
        retries.Add(1, new KeyValuePair<string, object?>("reason", RetryReason(failed)));

    // The attempt's reason text names timeouts and error codes; the label keeps to a handful of values.
    private static string RetryReason(CrewAttemptResult failed) => failed switch
    {
        { StatusCode: { } status } => $"http_{status}",
        { Reason: var reason } when reason.StartsWith("timed out", StringComparison.Ordinal) => "timeout",
        _ => "connection_error",
    };

    private sealed class InFlight(UpDownCounter<long> gauge) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
            {
                gauge.Add(-1);
            }
        }
    }
}
