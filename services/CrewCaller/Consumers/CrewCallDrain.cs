using Microsoft.Extensions.Options;

namespace CrewPlatform.CrewCaller.Consumers;

/// <summary>
/// The only thing that may cut a crew call short: the end of the drain after a stop (<c>CREW_SHUTDOWN_DRAIN_SECONDS</c>
/// after the application starts stopping). Not the message's own cancellation: MassTransit cancels that when the
/// broker connection drops, and a broker restart must not throw away a call that is paid for and still running. The
/// call goes on, its answer is recorded, and the redelivered command re-announces it.
/// </summary>
public sealed class CrewCallDrain : IDisposable
{
    private readonly CancellationTokenSource drainEnded = new();
    private readonly CancellationTokenRegistration onStopping;

    public CrewCallDrain(IHostApplicationLifetime lifetime, IOptions<CrewCallerOptions> options)
    {
        var drain = options.Value.ShutdownDrain;
        onStopping = lifetime.ApplicationStopping.Register(() => drainEnded.CancelAfter(drain));
    }

    /// <summary>Cancelled when the drain time after a stop has run out.</summary>
    public CancellationToken Token => drainEnded.Token;

    public void Dispose()
    {
        onStopping.Dispose();
        drainEnded.Dispose();
    }
}
