using System.Diagnostics;
using CrewPlatform.Testing;

namespace CrewPlatform.Faults;

/// <summary>
/// What every fault scenario asserts of its run, on whichever stack it runs: it completes by itself; every user has
/// exactly one answer; no message is parked; a paid crew call is repeated only when the fault cut that very call; and
/// it finishes within the crew time it had left plus about a minute of recovery.
/// </summary>
public static class RunGuarantees
{
    /// <summary>How many stored answers a run has before a scenario breaks something.</summary>
    public const int FaultAfterAnswers = 8;

    /// <summary>The guarantee's "about one minute of recovery", plus room for this shared 2-core machine's noise.</summary>
    private static readonly TimeSpan RecoveryAllowance = TimeSpan.FromSeconds(90);

    /// <summary>
    /// Starts a run, lets it get going, applies <paramref name="fault"/> (which returns how many paid calls the fault
    /// may legitimately repeat: the calls it cut), then checks every guarantee of the run.
    /// </summary>
    /// <returns>The run's id.</returns>
    public static async Task<Guid> ScenarioAsync(FaultStack stack, string name, Func<List<FakeCall>, Task<int>> fault)
    {
        var runId = await stack.RunNowAsync();
        await Eventually.HoldsAsync(async () => await stack.StoredAnswersAsync(runId) >= FaultAfterAnswers,
            $"run {runId} has {FaultAfterAnswers} answers before the fault", TimeSpan.FromMinutes(2));

        var earlierCalls = new List<FakeCall>();
        var repeatable = await fault(earlierCalls);
        var cleared = Stopwatch.StartNew();
        await JudgeAsync(stack, name, runId, earlierCalls, repeatable, cleared, await StoredOrZeroAsync(stack, runId));
        return runId;
    }

    /// <summary>Waits for the run to complete by itself, then checks every guarantee and records the scenario's figures.</summary>
    public static async Task JudgeAsync(FaultStack stack, string name, Guid runId, List<FakeCall> earlierCalls, int repeatable, Stopwatch cleared, long answeredAtClear)
    {
        RunRow? run = null;
        await Eventually.HoldsAsync(async () => (run = await stack.TryReadRunAsync(runId))?.Status == "completed",
            $"run {runId} completes by itself after '{name}'", TimeSpan.FromMinutes(5));
        var recovery = cleared.Elapsed;

        Assert.Equal(new RunRow("completed", FaultStack.Users, FaultStack.Users, 0, 0), run);
        var rows = await stack.RowsPerUserAsync(runId);
        Assert.Equal(FaultStack.Users, rows.Count);
        Assert.All(rows, row => Assert.Equal(1, row.Value));

        var calls = earlierCalls.Concat(await stack.FakeCallsAsync())
            .Where(c => c.IdempotencyKey?.StartsWith($"{runId}:", StringComparison.Ordinal) == true)
            .ToList();
        Assert.All(rows.Keys, uid => Assert.Contains(calls, c => c.IdempotencyKey == $"{runId}:{uid}"));
        var extraPaidCalls = calls.Where(c => c.Plan == "ok").GroupBy(c => c.IdempotencyKey).Sum(g => g.Count() - 1);
        Assert.True(extraPaidCalls <= repeatable,
            $"'{name}' repeated {extraPaidCalls} paid crew calls; only the {repeatable} it cut may be repeated");

        Assert.Empty(await stack.ParkedMessagesAsync());

        var crewTimeLeft = TimeSpan.FromMilliseconds((FaultStack.Users - answeredAtClear) * (double)FaultStack.CrewLatencyMs / FaultStack.Concurrency);
        stack.Results.Add(new ScenarioResult(name, FaultStack.Users, extraPaidCalls, repeatable, recovery.TotalSeconds, crewTimeLeft.TotalSeconds));
        Assert.True(recovery <= crewTimeLeft + RecoveryAllowance,
            $"'{name}': the run needed {recovery.TotalSeconds:0} s after the fault cleared, crew time left was {crewTimeLeft.TotalSeconds:0} s");
    }

    private static async Task<long> StoredOrZeroAsync(FaultStack stack, Guid runId)
    {
        try
        {
            return await stack.StoredAnswersAsync(runId);
        }
        catch (Npgsql.NpgsqlException)
        {
            return 0;
        }
    }
}
