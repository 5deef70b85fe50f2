using System.Collections.Concurrent;

namespace CrewPlatform.FakeCrewApi;

/// <summary>
/// One received call, as <c>GET /calls</c> lists it (the latest <see cref="FakeCrewState.KeptCalls"/>):
/// <paramref name="ReceivedAt"/> is its start, taken when its body was read, before any latency, hold or answer;
/// <paramref name="IdempotencyKey"/> is the request's <c>Idempotency-Key</c> header, if any.
/// </summary>
public sealed record ReceivedCall(int Number, DateTimeOffset ReceivedAt, string? Context, string? Goal, string Plan, string? IdempotencyKey = null);

/// <summary>How the fake treats one user's calls (<c>POST /admin/users</c>): its steps in order, then <paramref name="Then"/> for every later call.</summary>
/// <param name="LatencyMs">Instead of the behaviour's latency and jitter, for this user's calls.</param>
public sealed record FakeUserPlan(IReadOnlyList<string>? Steps, string? Then, int? LatencyMs);

/// <summary>
/// The fake's mutable state: behaviour, the scripted answers still to give, and what it saw. A user's own plan
/// (<c>POST /admin/users</c>, found by the user uid in the call's <c>Idempotency-Key</c>, <c>runId:userUid</c>) decides
/// that user's calls; otherwise a scripted step (<c>POST /admin/script</c>) decides the next call exactly; only when none
/// is queued do the rates decide.
/// </summary>
public sealed class FakeCrewState(FakeCrewBehaviour initial)
{
    private readonly FakeCrewBehaviour configured = initial;
    public const int KeptCalls = 10_000;

    private readonly Lock gate = new();
    private readonly Queue<string> script = new();
    private readonly Dictionary<string, (Queue<string> Steps, string Then, int? LatencyMs)> users = new(StringComparer.Ordinal);
    private TaskCompletionSource held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<ReceivedCall> calls = new();
    private readonly ConcurrentDictionary<string, int> answered = new();
    private FakeCrewBehaviour behaviour = initial;
    private Random random = new(initial.Seed);
    private int received;
    private int inFlight;
    private int peakInFlight;
    private int abandoned;

    public FakeCrewBehaviour Behaviour
    {
        get { lock (gate) { return behaviour; } }
    }

    public void SetBehaviour(FakeCrewBehaviour value)
    {
        lock (gate)
        {
            if (value.Seed != behaviour.Seed)
            {
                random = new Random(value.Seed);
            }

            behaviour = value;
        }
    }

    public void AddScript(IEnumerable<string> steps)
    {
        lock (gate)
        {
            foreach (var step in steps)
            {
                script.Enqueue(step);
            }
        }
    }

    public void SetUserPlans(IReadOnlyDictionary<string, FakeUserPlan> plans)
    {
        lock (gate)
        {
            foreach (var (uid, plan) in plans)
            {
                users[uid] = (new Queue<string>(plan.Steps ?? []), plan.Then ?? Plans.Ok, plan.LatencyMs);
            }
        }
    }

    /// <summary>Registers a call and decides what to do with it: the user's own plan, the next scripted step, or a draw against the rates.</summary>
    public (string Plan, TimeSpan Latency, FakeCrewBehaviour Behaviour) Receive(string? context, string? goal, string? idempotencyKey = null)
    {
        string plan;
        double latencyMs;
        FakeCrewBehaviour current;
        lock (gate)
        {
            current = behaviour;
            latencyMs = current.LatencyMs + (current.JitterMs > 0 ? random.NextDouble() * current.JitterMs : 0);
            var uid = idempotencyKey?[(idempotencyKey.IndexOf(':', StringComparison.Ordinal) + 1)..];
            if (uid is not null && users.TryGetValue(uid, out var own))
            {
                plan = own.Steps.Count > 0 ? own.Steps.Dequeue() : own.Then;
                latencyMs = own.LatencyMs ?? latencyMs;
            }
            else
            {
                plan = script.Count > 0 ? script.Dequeue() : Draw(current);
            }
        }

        var number = Interlocked.Increment(ref received);
        calls.Enqueue(new ReceivedCall(number, DateTimeOffset.UtcNow, context, goal, plan, idempotencyKey));
        while (calls.Count > KeptCalls && calls.TryDequeue(out _))
        {
        }

        return (plan, TimeSpan.FromMilliseconds(latencyMs), current);
    }

    private string Draw(FakeCrewBehaviour current)
    {
        var roll = random.NextDouble();
        foreach (var (rate, plan) in new[] { (current.HangRate, Plans.Hang), (current.FailureRate, "500"), (current.RateLimitRate, "429"), (current.NonJsonRate, Plans.NonJson) })
        {
            if (roll < rate)
            {
                return plan;
            }

            roll -= rate;
        }

        return Plans.Ok;
    }

    /// <summary>Completes when the calls held now (scripted <see cref="Plans.Hold"/>) are released.</summary>
    public Task Released
    {
        get { lock (gate) { return held.Task; } }
    }

    /// <summary>Lets every held call answer; calls held later wait for the next release.</summary>
    public void ReleaseHeld()
    {
        TaskCompletionSource releasing;
        lock (gate)
        {
            releasing = held;
            held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        releasing.TrySetResult();
    }

    public void Entered()
    {
        var now = Interlocked.Increment(ref inFlight);
        int peak;
        while (now > (peak = Volatile.Read(ref peakInFlight)) && Interlocked.CompareExchange(ref peakInFlight, now, peak) != peak)
        {
        }
    }

    public void Left() => Interlocked.Decrement(ref inFlight);

    public void Answered(int statusCode) => answered.AddOrUpdate(statusCode.ToString(System.Globalization.CultureInfo.InvariantCulture), 1, (_, n) => n + 1);

    public void Abandoned() => Interlocked.Increment(ref abandoned);

    public FakeCrewStats Stats() => new(
        Volatile.Read(ref received),
        Volatile.Read(ref inFlight),
        Volatile.Read(ref peakInFlight),
        new SortedDictionary<string, int>(answered),
        Volatile.Read(ref abandoned),
        ScriptedStepsLeft());

    public IReadOnlyList<ReceivedCall> Calls() => [.. calls];

    public void Reset()
    {
        lock (gate)
        {
            script.Clear();
            users.Clear();
            behaviour = configured;
            random = new Random(configured.Seed);
        }

        calls.Clear();
        answered.Clear();
        Interlocked.Exchange(ref received, 0);
        Interlocked.Exchange(ref abandoned, 0);
        Interlocked.Exchange(ref peakInFlight, Volatile.Read(ref inFlight));
    }

    private int ScriptedStepsLeft()
    {
        lock (gate)
        {
            return script.Count;
        }
    }
}

/// <summary><c>GET /stats</c>: calls received, in flight now and at most at once, answers by status, calls the caller abandoned.</summary>
public sealed record FakeCrewStats(int Received, int InFlight, int PeakInFlight, IReadOnlyDictionary<string, int> AnsweredByStatus, int Abandoned, int ScriptedStepsLeft);

/// <summary>What a call will do: <c>ok</c>, <c>hang</c>, <c>non-json</c>, <c>reset</c>, or an HTTP status code such as <c>500</c> or <c>429</c>.</summary>
public static class Plans
{
    public const string Ok = "ok";
    public const string Hang = "hang";
    public const string NonJson = "non-json";

    /// <summary>Reads the request, then drops the connection without an answer.</summary>
    public const string Reset = "reset";

    /// <summary>Waits until <see cref="FakeCrewState.ReleaseHeld"/> (<c>POST /admin/release</c>), then answers like <see cref="Ok"/>.</summary>
    public const string Hold = "hold";

    public static bool IsValid(string step) =>
        step is Ok or Hang or NonJson or Hold or Reset || (int.TryParse(step, out var status) && status is >= 200 and <= 599);
}
