using System.Diagnostics.Metrics;
using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Runs;
using CrewPlatform.ServiceDefaults;

namespace CrewPlatform.Scheduler;

/// <summary>What <see cref="RunGaugesRefresh"/> last read from the database; gauges report it at the next scrape.</summary>
public sealed record RunGauges(
    IReadOnlyList<(string Schedule, DateTimeOffset DueAt)> NextDue, int RunsRunning, TimeSpan LongestWithoutProgress, int StalledFanOuts, int RunsAwaitingOutcomes);

/// <summary>The Scheduler's metrics, each defined here once; the run code reports with one call per event.</summary>
public sealed class SchedulerMetrics
{
    private readonly Counter<long> runs;
    private readonly Histogram<double> runDuration;
    private readonly Counter<long> runUsers;
    private readonly Counter<long> reconcilerActions;
    private readonly Counter<long> budgetExhausted;
    private volatile RunGauges? gauges;

    public SchedulerMetrics(IMeterFactory meterFactory)
    {
        var meter = PlatformMeters.Create(meterFactory, "Scheduler");
        runs = meter.CreateCounter<long>("scheduler_runs", description:
            "Runs that reached a final status: completed (every user succeeded or was skipped), failed (completed with at least one failed user), cancelled (an operator cancelled it), skipped (a due time that found the previous run going). A run reopened by retry-failed counts again when it completes again");
        runDuration = meter.CreateHistogram("scheduler_run_duration", "s",
            "Time from a run's start to its completion", advice: PlatformMeters.SecondsAdvice);
        runUsers = meter.CreateCounter<long>("scheduler_run_users", description:
            "Users of completed runs by outcome: succeeded, failed, skipped (no context and no goal, or the run's budget ran out), cancelled, unchanged (not called: their latest answer came from the same input recently enough)");
        budgetExhausted = meter.CreateCounter<long>("crew_run_budget_exhausted", description:
            "Runs whose budget ran out (once per run), by schedule (its id, or none for a run of no schedule)");
        reconcilerActions = meter.CreateCounter<long>("scheduler_reconciler_actions", description:
            "What the run reconciler repaired: fan_out_redriven, completion_published, run_redispatched, command_resent");

        meter.CreateObservableGauge("scheduler_next_due_timestamp", ObserveNextDue, "s",
            "When each running schedule (label schedule) is next due, Unix time; absent while it is stopped. Left in the past, due runs are not starting");
        meter.CreateObservableGauge("scheduler_runs_running", () => Observe(g => g.RunsRunning), description: "Runs still running");
        meter.CreateObservableGauge("scheduler_run_progress_age", () => Observe(g => g.LongestWithoutProgress.TotalSeconds), "s",
            "How long the running run that recorded a page or an outcome longest ago has gone without one; 0 with no run running");
        meter.CreateObservableGauge("scheduler_reconciler_backlog", ObserveBacklog, description:
            "Running runs the reconciler acts on at its next pass: stalled_fan_out (no page for CREW_SCHEDULER_FANOUT_STALL_SECONDS), awaiting_outcomes (no outcome for CREW_SCHEDULER_REDISPATCH_AFTER_MINUTES)");
    }

    public void Refreshed(RunGauges current) => gauges = current;

    public void RunSkipped() => runs.Add(1, Label("status", "skipped"));

    public void RunCompleted(CrewRunCompleted completed, DateTimeOffset startedAt)
    {
        runs.Add(1, Label("status", completed.Status == RunStatus.Cancelled ? RunStatus.Cancelled : completed.Failed > 0 ? "failed" : "completed"));
        runDuration.Record(Math.Max(0, (completed.CompletedAt - startedAt).TotalSeconds));
        runUsers.Add(completed.Succeeded, Label("outcome", "succeeded"));
        runUsers.Add(completed.Failed, Label("outcome", "failed"));
        runUsers.Add(completed.Skipped, Label("outcome", "skipped"));
        runUsers.Add(completed.Cancelled, Label("outcome", "cancelled"));
        runUsers.Add(completed.Unchanged, Label("outcome", "unchanged"));
    }

    public void BudgetExhausted(int? scheduleId) =>
        budgetExhausted.Add(1, Label("schedule", scheduleId?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"));

    /// <summary>
    /// A run with a budget started: its schedule's series is exported from 0 on, so the first exhaustion after a start of
    /// this process is an increase Prometheus can see (the <c>CrewBudgetExhausted</c> alert), not a series born at 1.
    /// </summary>
    public void BudgetWatched(int? scheduleId) =>
        budgetExhausted.Add(0, Label("schedule", scheduleId?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"));

    public void ReconcilerPassed(ReconcilePass pass)
    {
        reconcilerActions.Add(pass.FanOutsRedriven, Label("action", "fan_out_redriven"));
        reconcilerActions.Add(pass.CompletionsPublished, Label("action", "completion_published"));
        reconcilerActions.Add(pass.RunsRedispatched, Label("action", "run_redispatched"));
        reconcilerActions.Add(pass.CommandsResent, Label("action", "command_resent"));
    }

    private IEnumerable<Measurement<double>> Observe(Func<RunGauges, double?> value) =>
        gauges is { } current && value(current) is { } measured ? [new Measurement<double>(measured)] : [];

    private IEnumerable<Measurement<double>> ObserveNextDue() => gauges is { } current
        ? current.NextDue.Select(due => new Measurement<double>(due.DueAt.ToUnixTimeMilliseconds() / 1000.0, Label("schedule", due.Schedule)))
        : [];

    private IEnumerable<Measurement<int>> ObserveBacklog() => gauges is { } current
        ? [new(current.StalledFanOuts, Label("kind", "stalled_fan_out")), new(current.RunsAwaitingOutcomes, Label("kind", "awaiting_outcomes"))]
        : [];

    private static KeyValuePair<string, object?> Label(string name, string value) => new(name, value);
}
