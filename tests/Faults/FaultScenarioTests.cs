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
    /// <summary>
    /// The calls a crash of the crew caller or of the crew API may cut: at most the ones in flight, and never more than
    /// CREW_MAX_CONCURRENCY are. (Counting them from outside races with calls that start or end at the crash.)
    /// </summary>
    private const int CutByACrash = FaultStack.Concurrency;

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
        await RunGuarantees.JudgeAsync(stack, "crash between run commit and first page", runId, [], repeatable: 0, Stopwatch.StartNew(), answeredAtClear: 0);
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

    private Task ScenarioAsync(string name, Func<List<FakeCall>, Task<int>> fault) => RunGuarantees.ScenarioAsync(stack, name, fault);
}
