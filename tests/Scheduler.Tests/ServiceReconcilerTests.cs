using CrewPlatform.Contracts;
using CrewPlatform.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>The Scheduler service with a reconciler quick enough to watch: a pass every second, a fan-out stalled after one.</summary>
public sealed class QuickReconcilerAppFixture : SchedulerAppFixture
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>(base.Settings)
    {
        ["CREW_SCHEDULER_RECONCILE_SECONDS"] = "1",
        ["CREW_SCHEDULER_FANOUT_STALL_SECONDS"] = "1",
    };
}

/// <summary>The service's own Coravel-scheduled reconciler, over real RabbitMQ and PostgreSQL, with a stand-in crew caller.</summary>
public sealed class ServiceReconcilerTests(QuickReconcilerAppFixture fixture) : IClassFixture<QuickReconcilerAppFixture>
{
    [Fact]
    public async Task A_run_a_crashed_replica_committed_without_its_first_page_is_fanned_out_and_completes_by_itself()
    {
        await using var crewCaller = await CrewCallerStandIn.StartAsync(fixture);
        await fixture.AddUsersAsync(Enumerable.Range(1, 12).Select(i => ($"crashed-{i:D2}", (string?)"context", (string?)null)));
        var runId = Guid.NewGuid();

        // What a replica that died between committing the run and publishing its first page leaves behind.
        await fixture.ExecuteAsync(
            """
            INSERT INTO scheduler.runs (id, trigger, started_at, status, dispatched, succeeded, failed, skipped, fan_out_completed, next_page_number, last_progress_at)
            VALUES ($1, 'manual', now(), 'running', 0, 0, 0, 0, false, 1, now())
            """,
            runId);

        // At least: on a slow machine a one-second stall may re-drive the page again, which only repeats commands.
        await Eventually.HoldsAsync(() => crewCaller.Commands.Count(c => c.RunId == runId) >= 12, "the reconciler fanned the run out");
        foreach (var command in crewCaller.Commands.Where(c => c.RunId == runId).DistinctBy(c => c.UserUid))
        {
            await crewCaller.Publisher.Publish(new CrewResponseStored { RunId = runId, UserUid = command.UserUid, ResponseId = 1, StoredAt = DateTimeOffset.UtcNow });
        }

        await Eventually.HoldsAsync(() => crewCaller.Completed.Any(c => c.RunId == runId), "the run completed and said so");
        var completed = Assert.Single(crewCaller.Completed, c => c.RunId == runId);
        Assert.Equal((12, 12, 0), (completed.Dispatched, completed.Succeeded, completed.Failed));
        Assert.Equal(12, crewCaller.Commands.Where(c => c.RunId == runId).Select(c => c.UserUid).Distinct(StringComparer.Ordinal).Count());
    }
}
