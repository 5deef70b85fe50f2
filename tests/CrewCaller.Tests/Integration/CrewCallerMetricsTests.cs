using CrewPlatform.CrewCaller.Tests.Support;
using CrewPlatform.Testing;

namespace CrewPlatform.CrewCaller.Tests.Integration;

/// <summary>CrewCallerMetrics over the real service: what Prometheus scrapes as crew_calls_total and its neighbours.</summary>
[Collection(ConcurrencyLimitedCollection.Name)]
public sealed class CrewCallerMetricsTests(CrewCallerApp<ConcurrencyLimitedSettings> app)
{
    [Fact]
    public async Task Calls_are_counted_by_outcome_with_their_duration_retries_and_calls_in_flight()
    {
        using var metrics = new MetricRecorder(app.Services);
        app.Fake.State.Reset();
        app.Fake.State.AddScript(["502", "ok", "400"]);

        var answered = Messages.RunCrewForUser();
        await app.SendAsync(answered);
        await app.ReceivedAsync(answered);
        var rejected = Messages.RunCrewForUser();
        await app.SendAsync(rejected);
        await app.FailedAsync(rejected);

        // Recorded before the outcome is published, so they are there by now.
        Assert.Equal(1, metrics.Sum("crew_calls", ("outcome", "succeeded")));
        Assert.Equal(1, metrics.Sum("crew_calls", ("outcome", "rejected")));
        Assert.Equal(0, metrics.Sum("crew_calls", ("outcome", "gave_up")));
        Assert.Equal(1, metrics.Count("crew_call_duration", ("outcome", "succeeded")));
        Assert.Equal(1, metrics.Count("crew_call_duration", ("outcome", "rejected")));
        Assert.Equal(1, metrics.Sum("crew_retries", ("reason", "http_502")));

        await Eventually.HoldsAsync(() => metrics.Count("crew_calls_in_flight") == 4, "both calls entered and left the in-flight gauge");
        Assert.Equal(0, metrics.Sum("crew_calls_in_flight"));
        Assert.Equal(0, metrics.Observe("crew_circuit_open", ("endpoint", "default")));
    }
}
