using System.Diagnostics;
using CrewPlatform.Testing;

namespace CrewPlatform.Faults;

/// <summary>
/// The platform's guarantees (README, "Guarantees") under the ordinary faults of production, on the real stack:
/// every run completes by itself; every user has exactly one answer; no message is parked; a paid crew call is
/// repeated only when the fault cut that very call; and the run finishes within the crew time it had left plus
/// about a minute of recovery. Each scenario waits for 8 stored answers of a 48-user run, breaks something, heals it,
/// then judges the run from the database, the broker and the fake crew API's per-user calls.
/// </summary>
[Collection(FaultStackCollection.Name)]
public sealed class FaultScenarioTests(FaultStack stack)
{
    private const int FaultAfterAnswers = 8;

    /// <summary>
    /// The calls a crash of the crew caller or of the crew API may cut: at most the ones in flight, and never more than
    /// CREW_MAX_CONCURRENCY are. (Counting them from outside races with calls that start or end at the crash.)
    /// </summary>
    private const int CutByACrash = FaultStack.Concurrency;

    /// <summary>The guarantee's "about one minute of recovery", plus room for this shared 2-core machine's noise.</summary>
    private static readonly TimeSpan RecoveryAllowance = TimeSpan.FromSeconds(90);

    private static readonly TimeSpan RestartAfter = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan DatabaseOutage = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CrewApiOutage = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan CrewApiHang = TimeSpan.FromSeconds(20);

    [Fact]
    public Task A_crew_caller_killed_mid_run_is_taken_over_and_repeats_only_the_calls_it_had_in_flight() =>
        ScenarioAsync("kill-9 crew-caller", async _ =>
        {
            await KillAndRestartAsync("crew-caller");
            return CutByACrash;
        });

    [Fact]
    public Task A_scheduler_killed_mid_run_loses_no_outcome() =>
        ScenarioAsync("kill-9 scheduler", async _ =>
        {
            await KillAndRestartAsync("scheduler");
            return 0;
        });

    [Fact]
    public Task A_response_store_killed_mid_run_loses_no_answer() =>
        ScenarioAsync("kill-9 response-store", async _ =>
        {
            await KillAndRestartAsync("response-store");
            return 0;
        });

    [Fact]
    public Task A_rabbitmq_restart_mid_run_loses_and_repeats_nothing() =>
        ScenarioAsync("rabbitmq restart", async _ =>
        {
            try
            {
                await Outages.StopRabbitMqAsync();
            }
            finally
            {
                await Outages.StartRabbitMqAsync();
            }

            return 0;
        });

    [Fact]
    public Task PostgreSQL_stopped_for_30_seconds_mid_run_parks_nothing_and_repeats_no_call() =>
        ScenarioAsync("postgresql down 30 s", async _ =>
        {
            try
            {
                await Outages.StopPostgresAsync();
                await Task.Delay(DatabaseOutage);
            }
            finally
            {
                await Outages.StartPostgresAsync();
            }

            return 0;
        });

    [Fact]
    public Task A_crew_api_refusing_connections_for_two_minutes_fails_nobody() =>
        ScenarioAsync("crew api refusing 2 min", async earlierCalls =>
        {
            // The fake forgets its calls when it dies: keep what it saw so far.
            earlierCalls.AddRange(await stack.FakeCallsAsync());
            try
            {
                Outages.Kill(LocalStackScript.ServicePid("fake-crew-api"));
                await Task.Delay(CrewApiOutage);
            }
            finally
            {
                await stack.StartMissingServicesAsync();
            }

            return CutByACrash;
        });

    [Fact]
    public Task A_hanging_crew_api_trips_the_circuit_and_fails_nobody() =>
        ScenarioAsync("crew api hanging 20 s", async _ =>
        {
            try
            {
                await stack.SetFakeHangRateAsync(1);
                await Task.Delay(CrewApiHang);
            }
            finally
            {
                await stack.SetFakeHangRateAsync(0);
            }

            return 0;
        });

    [Fact]
    public async Task A_run_whose_scheduler_died_between_its_commit_and_its_first_page_runs_by_itself()
    {
        // Exactly the row a scheduler leaves when it dies right after committing a new run: no page was ever published.
        var runId = Guid.NewGuid();
        await stack.ExecuteAsync(
            """
            INSERT INTO scheduler.runs (id, trigger, started_at, status, dispatched, succeeded, failed, skipped,
                                        fan_out_completed, next_page_number, last_progress_at)
            VALUES ($1, 'schedule', now(), 'running', 0, 0, 0, 0, false, 1, now())
            """,
            runId);
        await JudgeAsync("crash between run commit and first page", runId, [], repeatable: 0, Stopwatch.StartNew(), answeredAtClear: 0);
    }

    private async Task KillAndRestartAsync(string service)
    {
        try
        {
            Outages.Kill(LocalStackScript.ServicePid(service));
            await Task.Delay(RestartAfter);
        }
        finally
        {
            await stack.StartMissingServicesAsync();
        }
    }

    /// <summary>
    /// Starts a run, lets it get going, applies <paramref name="fault"/> (which returns how many paid calls the fault
    /// may legitimately repeat: the calls it cut), then checks every guarantee of the run.
    /// </summary>
    private async Task ScenarioAsync(string name, Func<List<FakeCall>, Task<int>> fault)
    {
        var runId = await stack.RunNowAsync();
        await Eventually.HoldsAsync(async () => await stack.StoredAnswersAsync(runId) >= FaultAfterAnswers,
            $"run {runId} has {FaultAfterAnswers} answers before the fault", TimeSpan.FromMinutes(2));

        var earlierCalls = new List<FakeCall>();
        var repeatable = await fault(earlierCalls);
        var cleared = Stopwatch.StartNew();
        await JudgeAsync(name, runId, earlierCalls, repeatable, cleared, await StoredOrZeroAsync(runId));
    }

    /// <summary>Waits for the run to complete by itself, then checks every guarantee and records the scenario's figures.</summary>
    private async Task JudgeAsync(string name, Guid runId, List<FakeCall> earlierCalls, int repeatable, Stopwatch cleared, long answeredAtClear)
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

    private async Task<long> StoredOrZeroAsync(Guid runId)
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
