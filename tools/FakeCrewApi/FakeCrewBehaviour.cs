namespace CrewPlatform.FakeCrewApi;

/// <summary>
/// How the fake misbehaves, configuration section <c>FakeCrew</c> (env <c>FakeCrew__LatencyMs</c> ...), changeable at
/// run time with <c>PUT /admin/behaviour</c>. Rates are probabilities from 0 to 1, drawn from a seeded generator.
/// </summary>
public sealed record FakeCrewBehaviour
{
    public const string SectionName = "FakeCrew";

    /// <summary>Time before each answer, in milliseconds (a real crew takes 20 s to 10 minutes).</summary>
    public int LatencyMs { get; init; }

    /// <summary>Uniform random extra latency, 0 to this many milliseconds.</summary>
    public int JitterMs { get; init; }

    /// <summary>Share of calls answered 500.</summary>
    public double FailureRate { get; init; }

    /// <summary>Share of calls answered 429 with a Retry-After of <see cref="RetryAfterSeconds"/>.</summary>
    public double RateLimitRate { get; init; }

    public int RetryAfterSeconds { get; init; } = 1;

    /// <summary>Share of calls that never answer (until the caller gives up).</summary>
    public double HangRate { get; init; }

    /// <summary>Share of calls answered 200 with a body that is not JSON.</summary>
    public double NonJsonRate { get; init; }

    /// <summary>Seed of the generator behind the rates and the jitter, so a run of the fake can be repeated.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>
    /// When set, every JSON answer carries <c>"usage": {"total_cost": CostPerAnswer}</c> beside its questions, as a
    /// priced crew API reports what the call cost; null (the default) answers without usage.
    /// </summary>
    public decimal? CostPerAnswer { get; init; }

    public IEnumerable<string> Problems()
    {
        if (LatencyMs < 0 || JitterMs < 0)
        {
            yield return "LatencyMs and JitterMs must not be negative";
        }

        if (RetryAfterSeconds < 0)
        {
            yield return "RetryAfterSeconds must not be negative";
        }

        if (CostPerAnswer < 0)
        {
            yield return "CostPerAnswer must not be negative";
        }

        foreach (var (name, rate) in new[] { ("FailureRate", FailureRate), ("RateLimitRate", RateLimitRate), ("HangRate", HangRate), ("NonJsonRate", NonJsonRate) })
        {
            if (rate is < 0 or > 1 || double.IsNaN(rate))
            {
                yield return $"{name} must be between 0 and 1";
            }
        }

        if (FailureRate + RateLimitRate + HangRate + NonJsonRate > 1)
        {
            yield return "FailureRate + RateLimitRate + HangRate + NonJsonRate must not exceed 1";
        }
    }
}

/// <summary>
/// A partial update of <see cref="FakeCrewBehaviour"/>: only the given knobs change (so a cost, once set, stays until
/// <c>POST /admin/reset</c> puts the configured behaviour back).
/// </summary>
public sealed record FakeCrewBehaviourPatch(
    int? LatencyMs, int? JitterMs, double? FailureRate, double? RateLimitRate, int? RetryAfterSeconds, double? HangRate, double? NonJsonRate, int? Seed,
    decimal? CostPerAnswer = null)
{
    public FakeCrewBehaviour ApplyTo(FakeCrewBehaviour current) => current with
    {
        LatencyMs = LatencyMs ?? current.LatencyMs,
        JitterMs = JitterMs ?? current.JitterMs,
        FailureRate = FailureRate ?? current.FailureRate,
        RateLimitRate = RateLimitRate ?? current.RateLimitRate,
        RetryAfterSeconds = RetryAfterSeconds ?? current.RetryAfterSeconds,
        HangRate = HangRate ?? current.HangRate,
        NonJsonRate = NonJsonRate ?? current.NonJsonRate,
        Seed = Seed ?? current.Seed,
        CostPerAnswer = CostPerAnswer ?? current.CostPerAnswer,
    };
}
