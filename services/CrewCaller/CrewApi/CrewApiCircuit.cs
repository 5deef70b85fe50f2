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
/// One circuit per crew endpoint of this instance, judging the crew API by its users rather than by its attempts: a
/// few users whose own calls fail (a context the model rejects) must not pass for an outage, and a call gives up only
/// after minutes, so a breaker on whole calls would trip far too late.
/// </summary>
/// <remarks>
/// <para>
/// It keeps the latest <c>CREW_CIRCUIT_ACTIVATION_THRESHOLD</c> users to make a first attempt within
/// <c>CREW_CIRCUIT_TRACKING_SECONDS</c>, each with the outcome of its latest attempt, and trips when
/// <c>CREW_CIRCUIT_TRIP_PERCENT</c> of them are failing, once it holds that many users (or as many as can be in flight
/// at once, when the endpoint's concurrency is lower, but at least two). A user is failing when its latest two attempts found the API
/// unavailable (429, 5xx, timeout, connection cut), or at once when no connection could be made: one failed attempt is
/// as often the user's bad luck as the API's. A user keeps its place by its first attempt, so users retrying for
/// seconds are not over-represented beside users answered in milliseconds; a user whose call gives up is forgotten,
/// since its attempts were spent on its own. In an outage no new users come (their slots are held), so the users in
/// flight fill the window.
/// </para>
/// <para>
/// While it is open, callers queue at <see cref="EnterAsync"/> holding their concurrency slot, so the broker delivers
/// no further users. After <c>CREW_CIRCUIT_RESTART_SECONDS</c> the caller that has waited longest makes one probe
/// attempt, never the previous probe's caller while another waits; its outcome closes or re-opens the circuit.
/// </para>
/// <para>
/// What counts against a user's <c>CREW_MAX_ATTEMPTS</c> (<see cref="CircuitPermit.Record"/>): every attempt that may
/// have reached the crew API, probes and attempts made while the circuit is open included, so a user is never called
/// more often than its attempts. Only an attempt that could not connect is not counted once the circuit is open or
/// that attempt tripped it: the API, not the user, is the problem then, and nothing was paid.
/// </para>
/// </remarks>
public sealed partial class CrewApiCircuit(
    IOptions<CrewCallerOptions> options, TimeProvider timeProvider, ILogger<CrewApiCircuit> logger, string endpoint, int maxConcurrency)
{
    private enum UserHealth
    {
        /// <summary>Its latest attempt found the API available (an answer, or an answer the user is to blame for).</summary>
        Available,

        /// <summary>Its latest attempt failed, the one before did not (or there was none).</summary>
        FailedOnce,

        /// <summary>Its latest two attempts failed, or its latest could not connect: evidence against the API.</summary>
        Failing,
    }

    private sealed record UserOutcome(string Caller, DateTimeOffset At, UserHealth Health);

    private readonly CrewCallerOptions settings = options.Value;
    private readonly Lock gate = new();

    /// <summary>The latest outcome per user, in the order of their first attempts; <see cref="windowByCaller"/> finds a user's.</summary>
    private readonly LinkedList<UserOutcome> window = new();
    private readonly Dictionary<string, LinkedListNode<UserOutcome>> windowByCaller = new(StringComparer.Ordinal);
    private int failingInWindow;

    /// <summary>Callers waiting while the circuit is not closed, in the order they came.</summary>
    private readonly LinkedList<Waiter> waiters = new();
    private string? lastProbeCaller;
    private ITimer? probeTimer;

    private CrewApiCircuitState state = CrewApiCircuitState.Closed;
    private DateTimeOffset openedAt;
    private (string Reason, DateTimeOffset At)? lastFailure;

    /// <summary>How many users the circuit must hold before it may trip: no more than can be in flight at once, but never one user alone.</summary>
    private int UsersToJudge => Math.Min(settings.CircuitActivationThreshold, Math.Max(2, maxConcurrency));

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
                state == CrewApiCircuitState.Open ? ProbeAt : null,
                lastFailure?.Reason,
                lastFailure?.At);
        }
    }

    private DateTimeOffset ProbeAt => openedAt + settings.CircuitRestartTimeout;

    /// <summary>
    /// Waits until <paramref name="caller"/> (one user's call, e.g. its idempotency key) may make an attempt: at once while
    /// closed; otherwise in line, until it is chosen as the probe or a probe closed the circuit.
    /// </summary>
    public Task<CircuitPermit> EnterAsync(string caller, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Waiter waiter;
        lock (gate)
        {
            if (state == CrewApiCircuitState.Closed)
            {
                return Task.FromResult(new CircuitPermit(this, caller, isProbe: false));
            }

            waiter = new Waiter(caller);
            waiter.Node = waiters.AddLast(waiter);
            ChooseProbeIfDue();
        }

        if (waiter.Permit.Task.IsCompleted)
        {
            return waiter.Permit.Task;
        }

        return WaitInLineAsync(waiter, cancellationToken);
    }

    private async Task<CircuitPermit> WaitInLineAsync(Waiter waiter, CancellationToken cancellationToken)
    {
        // A waiter chosen just as it is cancelled keeps its permit (it is out of the line by then): the caller disposes it,
        // and an unrecorded probe hands probing on to the next in line.
        await using var registration = cancellationToken.Register(() =>
        {
            lock (gate)
            {
                if (waiter.Node?.List is null)
                {
                    return;
                }

                waiters.Remove(waiter.Node);
            }

            waiter.Permit.TrySetCanceled(cancellationToken);
        });
        return await waiter.Permit.Task;
    }

    /// <summary>A user's call gave up after its attempts: its failures were its own, so they no longer speak against the API.</summary>
    public void Forget(string caller)
    {
        lock (gate)
        {
            RemoveFromWindow(caller);
        }
    }

    private bool Record(CircuitPermit permit, CrewAttemptResult result)
    {
        bool? availabilityChangedTo = null;
        var counts = Record(permit, result, ref availabilityChangedTo);
        if (availabilityChangedTo is { } nowAvailable)
        {
            AvailabilityChanged?.Invoke(endpoint, nowAvailable);
        }

        return counts;
    }

    private bool Record(CircuitPermit permit, CrewAttemptResult result, ref bool? availabilityChangedTo)
    {
        var available = result.Outcome != CrewAttemptOutcome.Transient;
        var countsAgainstUser = !available && result.ReachedApi;
        lock (gate)
        {
            var now = timeProvider.GetUtcNow();
            if (!available)
            {
                lastFailure = (result.Reason, now);
            }

            if (permit.IsProbe)
            {
                if (available)
                {
                    LogClosed(logger, endpoint);
                    Close();
                    availabilityChangedTo = true;
                }
                else
                {
                    Open(now);
                    LogProbeFailed(logger, endpoint, settings.CircuitRestartSeconds);
                }

                return countsAgainstUser;
            }

            if (state != CrewApiCircuitState.Closed)
            {
                return countsAgainstUser;
            }

            while (window.First is { } oldest && now - oldest.Value.At > settings.CircuitTrackingPeriod)
            {
                RemoveFromWindow(oldest.Value.Caller);
            }

            windowByCaller.TryGetValue(permit.Caller, out var seen);
            var health = available ? UserHealth.Available
                : !result.ReachedApi || seen?.Value.Health is UserHealth.FailedOnce or UserHealth.Failing ? UserHealth.Failing
                : UserHealth.FailedOnce;
            if (seen is null)
            {
                windowByCaller[permit.Caller] = window.AddLast(new UserOutcome(permit.Caller, now, health));
            }
            else
            {
                failingInWindow -= seen.Value.Health == UserHealth.Failing ? 1 : 0;
                seen.Value = seen.Value with { Health = health };
            }

            failingInWindow += health == UserHealth.Failing ? 1 : 0;

            // Only the latest users: an API that was healthy for the whole tracking period must still trip within a few
            // users once it goes down, not after as many users as it had served.
            while (window.Count > settings.CircuitActivationThreshold)
            {
                RemoveFromWindow(window.First!.Value.Caller);
            }

            if (health != UserHealth.Failing || window.Count < UsersToJudge || failingInWindow * 100 < settings.CircuitTripPercent * window.Count)
            {
                return !available;
            }

            LogOpened(logger, endpoint, failingInWindow, window.Count, settings.CircuitRestartSeconds);
            Open(now);
            availabilityChangedTo = false;
            return countsAgainstUser;
        }
    }

    /// <summary>A probe that never came back (its consumer stopped): the next in line probes at once.</summary>
    private void Abandon()
    {
        lock (gate)
        {
            if (state == CrewApiCircuitState.HalfOpen)
            {
                openedAt = timeProvider.GetUtcNow() - settings.CircuitRestartTimeout;
                state = CrewApiCircuitState.Open;
                ChooseProbeIfDue();
            }
        }
    }

    private void RemoveFromWindow(string caller)
    {
        if (windowByCaller.Remove(caller, out var node))
        {
            window.Remove(node);
            failingInWindow -= node.Value.Health == UserHealth.Failing ? 1 : 0;
        }
    }

    private void ClearWindow()
    {
        window.Clear();
        windowByCaller.Clear();
        failingInWindow = 0;
    }

    private void Open(DateTimeOffset now)
    {
        ClearWindow();
        openedAt = now;
        state = CrewApiCircuitState.Open;
        probeTimer?.Dispose();
        probeTimer = timeProvider.CreateTimer(_ => OnProbeTime(), null, settings.CircuitRestartTimeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The timer runs on a monotonic clock and may fire a moment before the wall clock reaches the probe time: it is set again then.</summary>
    private void OnProbeTime()
    {
        lock (gate)
        {
            var early = ProbeAt - timeProvider.GetUtcNow();
            if (state == CrewApiCircuitState.Open && early > TimeSpan.Zero)
            {
                probeTimer?.Change(early + TimeSpan.FromMilliseconds(1), Timeout.InfiniteTimeSpan);
                return;
            }

            ChooseProbeIfDue();
        }
    }

    private void Close()
    {
        ClearWindow();
        state = CrewApiCircuitState.Closed;
        probeTimer?.Dispose();
        probeTimer = null;
        while (waiters.First is { } first)
        {
            waiters.RemoveFirst();
            first.Value.Permit.TrySetResult(new CircuitPermit(this, first.Value.Caller, isProbe: false));
        }
    }

    /// <summary>Once the restart time has passed, lets the longest waiter probe, unless it made the previous probe and another waits.</summary>
    private void ChooseProbeIfDue()
    {
        if (state != CrewApiCircuitState.Open || waiters.First is null || timeProvider.GetUtcNow() < ProbeAt)
        {
            return;
        }

        var chosen = waiters.First;
        while (chosen.Value.Caller == lastProbeCaller && chosen.Next is { } next)
        {
            chosen = next;
        }

        if (chosen.Value.Caller == lastProbeCaller)
        {
            chosen = waiters.First;
        }

        waiters.Remove(chosen);
        state = CrewApiCircuitState.HalfOpen;
        lastProbeCaller = chosen.Value.Caller;
        chosen.Value.Permit.TrySetResult(new CircuitPermit(this, chosen.Value.Caller, isProbe: true));
    }

    private sealed class Waiter(string caller)
    {
        public string Caller { get; } = caller;

        public LinkedListNode<Waiter>? Node { get; set; }

        public TaskCompletionSource<CircuitPermit> Permit { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Leave to make one attempt; say how it went with <see cref="Record"/>.</summary>
    public sealed class CircuitPermit : IDisposable
    {
        private readonly CrewApiCircuit circuit;
        private bool recorded;

        internal CircuitPermit(CrewApiCircuit circuit, string caller, bool isProbe)
        {
            this.circuit = circuit;
            Caller = caller;
            IsProbe = isProbe;
        }

        public string Caller { get; }

        public bool IsProbe { get; }

        /// <summary>Tells the circuit how the attempt went.</summary>
        /// <returns>Whether a failed attempt counts against the user's <c>CREW_MAX_ATTEMPTS</c> (see the class remarks).</returns>
        public bool Record(CrewAttemptResult result)
        {
            recorded = true;
            return circuit.Record(this, result);
        }

        public void Dispose()
        {
            if (IsProbe && !recorded)
            {
                circuit.Abandon();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Crew API circuit of endpoint {Endpoint} opened: {Failing} of the latest {Users} users found the API unavailable; calls wait, one probe in {RestartSeconds} s")]
    private static partial void LogOpened(ILogger logger, string endpoint, int failing, int users, double restartSeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Crew API circuit of endpoint {Endpoint}: probe failed; the next probe in {RestartSeconds} s")]
    private static partial void LogProbeFailed(ILogger logger, string endpoint, double restartSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Crew API circuit of endpoint {Endpoint} closed: the probe attempt found the API available again")]
    private static partial void LogClosed(ILogger logger, string endpoint);
}
