using CrewPlatform.Contracts;
using CrewPlatform.ServiceDefaults;
using MassTransit;

namespace CrewPlatform.CrewCaller.CrewApi;

/// <summary>
/// Publishes <see cref="CrewApiAvailabilityChanged"/> when a crew endpoint's circuit opens or closes, for the webhooks'
/// <c>crew-api.unavailable</c> and <c>crew-api.recovered</c>. Best effort: a transition announced while the broker is
/// away is logged, not retried, as the circuit itself is this instance's memory only.
/// </summary>
public sealed partial class CrewApiAvailabilityAnnouncer(
    CrewEndpoints endpoints, IBus bus, TimeProvider clock, ILogger<CrewApiAvailabilityAnnouncer> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var endpoint in endpoints.All)
        {
            endpoint.Circuit.AvailabilityChanged += Announce;
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var endpoint in endpoints.All)
        {
            endpoint.Circuit.AvailabilityChanged -= Announce;
        }

        return Task.CompletedTask;
    }

    private void Announce(string endpoint, bool available) => _ = PublishAsync(endpoint, available);

    private async Task PublishAsync(string endpoint, bool available)
    {
        try
        {
            await PlatformRetry.WithinAttemptTimeoutAsync(
                ct => bus.Publish(new CrewApiAvailabilityChanged { Endpoint = endpoint, Available = available, ChangedAt = clock.GetUtcNow() }, ct),
                clock, CancellationToken.None);
        }
        catch (Exception ex)
        {
            LogNotAnnounced(logger, ex, endpoint, available);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Crew API availability of endpoint {Endpoint} (available: {Available}) not announced")]
    private static partial void LogNotAnnounced(ILogger logger, Exception exception, string endpoint, bool available);
}
