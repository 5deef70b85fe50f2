using Microsoft.Extensions.Options;

namespace CrewPlatform.CrewCaller.Calls;

/// <summary>
/// A stop as a crew call sees it. A wait (for a slot, for a lease, at an open circuit, between attempts) gives way to
/// the stop at once: a waiting consumer must not hold it up. A call in flight is cut short only by the end of the
/// drain (<see cref="Token"/>, <c>CREW_SHUTDOWN_DRAIN_SECONDS</c> after the application starts stopping). Not by the
/// message's own cancellation: MassTransit cancels that when the broker connection drops, and a broker restart must
/// not throw away a call that is paid for and still running. The call goes on, its answer is recorded, and the
/// redelivered command re-announces it.
/// </summary>
public sealed class CrewCallDrain : IDisposable
{
    private readonly CancellationTokenSource drainEnded = new();
    private readonly CancellationTokenRegistration onStopping;
    private readonly IHostApplicationLifetime lifetime;
    private readonly TimeProvider timeProvider;

    public CrewCallDrain(IHostApplicationLifetime lifetime, IOptions<CrewCallerOptions> options, TimeProvider timeProvider)
    {
        this.lifetime = lifetime;
        this.timeProvider = timeProvider;
        var drain = options.Value.ShutdownDrain;
        onStopping = lifetime.ApplicationStopping.Register(() => drainEnded.CancelAfter(drain));
    }

    /// <summary>Cancelled when the drain time after a stop has run out.</summary>
    public CancellationToken Token => drainEnded.Token;

    /// <summary>Waits, unless the application starts stopping first (false then).</summary>
    public async Task<bool> WaitUnlessStoppingAsync(TimeSpan delay, CancellationToken cancellationToken) =>
        await UnlessStoppingAsync(async token => { await Task.Delay(delay, timeProvider, token); return true; }, cancellationToken);

    /// <summary>
    /// What <paramref name="wait"/> came to, or default when the application was stopping or started stopping first,
    /// or <paramref name="giveUpAfter"/> passed first. <paramref name="cancellationToken"/> still throws.
    /// </summary>
    public async Task<T?> UnlessStoppingAsync<T>(Func<CancellationToken, Task<T>> wait, CancellationToken cancellationToken, TimeSpan? giveUpAfter = null)
    {
        var stopping = lifetime.ApplicationStopping;
        if (stopping.IsCancellationRequested)
        {
            return default;
        }

        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping);
        using var tooLong = giveUpAfter is { } limit ? new CancellationTokenSource(limit, timeProvider) : new CancellationTokenSource();
        using var registration = tooLong.Token.Register(waiting.Cancel);
        try
        {
            return await wait(waiting.Token);
        }
        catch (OperationCanceledException) when ((stopping.IsCancellationRequested || tooLong.IsCancellationRequested) && !cancellationToken.IsCancellationRequested)
        {
            return default;
        }
    }

    public void Dispose()
    {
        onStopping.Dispose();
        drainEnded.Dispose();
    }
}
