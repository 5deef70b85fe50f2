using Microsoft.Extensions.Options;

namespace CrewPlatform.CrewCaller.CrewApi;

public enum CrewApiCircuitState
{
    /// <summary>Attempts go through.</summary>
    Closed,

    /// <summary>The crew API looks down: attempts wait until the restart timeout has passed.</summary>
    Open,

    /// <summary>One probe attempt is out; its outcome closes or re-opens the circuit.</summary>
    HalfOpen,
}

/// <summary>A circuit's state for the endpoints API; <c>OpenUntil</c> is when the next probe may go out (null while probing or closed).</summary>
public sealed record CrewApiCircuitSnapshot(
    CrewApiCircuitState State, DateTimeOffset? OpenSince, DateTimeOffset? OpenUntil, string? LastFailure, DateTimeOffset? LastFailureAt);

/// <summary>
/// One circuit for every crew call of this instance, counting HTTP attempts rather than whole calls: a call gives up
/// only after minutes, so a breaker on calls would trip far too late, and hangs (timeouts) count as unavailable too.
/// It looks at the latest <c>CREW_CIRCUIT_ACTIVATION_THRESHOLD</c> attempts made within
/// <c>CREW_CIRCUIT_TRACKING_SECONDS</c> and trips when <c>CREW_CIRCUIT_TRIP_PERCENT</c> of them found the API unavailable.
/// While it is open, consumers wait at <see cref="EnterAsync"/> holding their slot, so the broker delivers no further
/// users; after <c>CREW_CIRCUIT_RESTART_SECONDS</c> one probe attempt decides.
/// </summary>
public sealed partial class CrewApiCircuit(IOptions<CrewCallerOptions> options, TimeProvider timeProvider, ILogger<CrewApiCircuit> logger, string endpoint)
{
    /// <summary>The default endpoint's circuit (<c>CREW_API_URL</c>).</summary>
    [Microsoft.Extensions.DependencyInjection.ActivatorUtilitiesConstructor]
    public CrewApiCircuit(IOptions<CrewCallerOptions> options, TimeProvider timeProvider, ILogger<CrewApiCircuit> logger)
        : this(options, timeProvider, logger, Contracts.CrewEndpointNames.Default)
    {
    }

    private readonly CrewCallerOptions settings = options.Value;
    private readonly Lock gate = new();
    private readonly Queue<(DateTimeOffset At, bool Unavailable)> window = new();
    private int unavailableInWindow;
    private CrewApiCircuitState state = CrewApiCircuitState.Closed;
    private DateTimeOffset openedAt;
    private (string Reason, DateTimeOffset At)? lastFailure;
    private TaskCompletionSource changed = NewSignal();

    /// <summary>
    /// Raised, outside the circuit's lock, with the endpoint's name and false when the circuit opens, true when a probe
    /// closes it again; a failed probe that keeps it open raises nothing.
    /// </summary>
    public event Action<string, bool>? AvailabilityChanged;

    /// <summary>The circuit's state now, for metrics and tests.</summary>
    public CrewApiCircuitState State
    {
        get { lock (gate) { return state; } }
    }

    /// <summary>The circuit as an operator sees it: its state, since when it is open and when it probes, the latest failure.</summary>
    public CrewApiCircuitSnapshot Snapshot()
    {
        lock (gate)
        {
            var open = state != CrewApiCircuitState.Closed;
            return new CrewApiCircuitSnapshot(
                state,
                open ? openedAt : null,
                state == CrewApiCircuitState.Open ? openedAt + settings.CircuitRestartTimeout : null,
                lastFailure?.Reason,
                lastFailure?.At);
        }
    }

    /// <summary>Waits until an attempt may go out: at once while closed; while open, until this caller is the probe or the probe closed the circuit.</summary>
    public async Task<CircuitPermit> EnterAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task stateChanged;
            TimeSpan wait;
            lock (gate)
            {
                if (state == CrewApiCircuitState.Closed)
                {
                    return new CircuitPermit(this, isProbe: false);
                }

                var now = timeProvider.GetUtcNow();
                var probeAt = openedAt + settings.CircuitRestartTimeout;
                if (state == CrewApiCircuitState.Open && now >= probeAt)
                {
                    SetState(CrewApiCircuitState.HalfOpen);
                    return new CircuitPermit(this, isProbe: true);
                }

                wait = state == CrewApiCircuitState.Open ? probeAt - now : Timeout.InfiniteTimeSpan;
                stateChanged = changed.Task;
            }

            cancellationToken.ThrowIfCancellationRequested();
            using var delay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            await Task.WhenAny(stateChanged, Task.Delay(wait, timeProvider, delay.Token));
            await delay.CancelAsync();
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <returns>Whether an unavailable attempt counts against the user's <c>CREW_MAX_ATTEMPTS</c>: not when the circuit was open or this attempt tripped it, since the API, not the user, is the problem.</returns>
    private bool Record(CircuitPermit permit, bool available, string? reason)
    {
        bool? availabilityChangedTo = null;
        var counts = Record(permit, available, reason, ref availabilityChangedTo);
        if (availabilityChangedTo is { } nowAvailable)
        {
            AvailabilityChanged?.Invoke(endpoint, nowAvailable);
        }

        return counts;
    }

    private bool Record(CircuitPermit permit, bool available, string? reason, ref bool? availabilityChangedTo)
    {
        lock (gate)
        {
            var now = timeProvider.GetUtcNow();
            if (!available)
            {
                lastFailure = (reason ?? "unavailable", now);
            }

            if (permit.IsProbe)
            {
                if (available)
                {
                    ClearWindow();
                    SetState(CrewApiCircuitState.Closed);
                    LogClosed(logger, endpoint);
                    availabilityChangedTo = true;
                }
                else
                {
                    openedAt = now;
                    SetState(CrewApiCircuitState.Open);
                    LogProbeFailed(logger, endpoint, settings.CircuitRestartSeconds);
                }

                return false;
            }

            if (state != CrewApiCircuitState.Closed)
            {
                return false;
            }

            while (window.TryPeek(out var oldest) && now - oldest.At > settings.CircuitTrackingPeriod)
            {
                unavailableInWindow -= window.Dequeue().Unavailable ? 1 : 0;
            }

            window.Enqueue((now, !available));
            unavailableInWindow += available ? 0 : 1;

            // Only the latest attempts: an API that was healthy for the whole tracking period must still trip within a
            // few failures once it goes down, not after as many failures as it had successes.
            while (window.Count > settings.CircuitActivationThreshold)
            {
                unavailableInWindow -= window.Dequeue().Unavailable ? 1 : 0;
            }

            if (available || window.Count < settings.CircuitActivationThreshold || unavailableInWindow * 100 < settings.CircuitTripPercent * window.Count)
            {
                return !available;
            }

            LogOpened(logger, endpoint, unavailableInWindow, window.Count, settings.CircuitRestartSeconds);
            ClearWindow();
            openedAt = now;
            SetState(CrewApiCircuitState.Open);
            availabilityChangedTo = false;
            return false;
        }
    }

    /// <summary>A probe that never came back (its consumer stopped): let the next waiter probe at once.</summary>
    private void Abandon()
    {
        lock (gate)
        {
            if (state == CrewApiCircuitState.HalfOpen)
            {
                openedAt = timeProvider.GetUtcNow() - settings.CircuitRestartTimeout;
                SetState(CrewApiCircuitState.Open);
            }
        }
    }

    private void ClearWindow()
    {
        window.Clear();
        unavailableInWindow = 0;
    }

    private void SetState(CrewApiCircuitState next)
    {
        state = next;
        var waiters = changed;
        changed = NewSignal();
        waiters.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Leave to make one attempt; say how it went with <see cref="Record"/>.</summary>
    public sealed class CircuitPermit : IDisposable
    {
        private readonly CrewApiCircuit circuit;
        private bool recorded;

        internal CircuitPermit(CrewApiCircuit circuit, bool isProbe)
        {
            this.circuit = circuit;
            IsProbe = isProbe;
        }

        public bool IsProbe { get; }

        /// <inheritdoc cref="CrewApiCircuit.Record(CircuitPermit, bool, string?)"/>
        /// <param name="available">Whether the attempt found the API available.</param>
        /// <param name="reason">Why it did not (timed out, connection refused, HTTP 503 ...), shown by the endpoints API.</param>
        public bool Record(bool available, string? reason = null)
        {
            recorded = true;
            return circuit.Record(this, available, reason);
        }

        public void Dispose()
        {
            if (IsProbe && !recorded)
            {
                circuit.Abandon();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Crew API circuit of endpoint {Endpoint} opened: {Unavailable} of the last {Attempts} attempts found the API unavailable; calls wait, one probe in {RestartSeconds} s")]
    private static partial void LogOpened(ILogger logger, string endpoint, int unavailable, int attempts, double restartSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Crew API circuit of endpoint {Endpoint}: probe failed; the next probe in {RestartSeconds} s")]
    private static partial void LogProbeFailed(ILogger logger, string endpoint, double restartSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Crew API circuit of endpoint {Endpoint} closed: the probe attempt found the API available again")]
    private static partial void LogClosed(ILogger logger, string endpoint);
}
