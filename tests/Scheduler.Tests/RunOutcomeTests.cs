using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Testing;
using Microsoft.Extensions.Time.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>Counting outcomes: each (run, user) once, whatever is redelivered, and exactly one completion.</summary>
public sealed class RunOutcomeTests(SchedulerDatabase database) : IClassFixture<SchedulerDatabase>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly DateTimeOffset Now = new(2025, 3, 3, 9, 0, 0, TimeSpan.Zero);

    private async Task<(SchedulerTestHost Host, Guid RunId)> StartRunAsync(int users)
    {
        var host = await SchedulerTestHost.StartAsync(database, new FakeTimeProvider(Now));
        await database.ResetAsync();
        await database.AddUsersAsync(users);
        var run = await host.RunNowAsync();
        await Eventually.HoldsAsync(async () => (await host.RunAsync(run.Id))?.FanOutCompleted == true, "the fan-out is done", Timeout);
        return (host, run.Id);
    }

    private static CrewResponseStored Stored(Guid runId, int user) =>
        new() { RunId = runId, UserUid = SchedulerDatabase.UserUid(user), ResponseId = user, StoredAt = Now };

    private static CrewCallFailed Failed(Guid runId, int user, string reason) =>
        new() { RunId = runId, UserUid = SchedulerDatabase.UserUid(user), Reason = reason, StatusCode = 500, Attempts = 3, FailedAt = Now };

    private static async Task PublishAndWaitAsync<T>(SchedulerTestHost host, T message) where T : class
    {
        var before = host.ConsumedSoFar<T>().Count(m => m.Equals(message));
        await host.Harness.Bus.Publish(message);
        await Eventually.HoldsAsync(() => host.ConsumedSoFar<T>().Count(m => m.Equals(message)) > before, $"{typeof(T).Name} was consumed", Timeout);
    }

    [Fact]
    public async Task A_run_completes_once_every_dispatched_user_succeeded_or_failed_and_says_so_once()
    {
        var (host, runId) = await StartRunAsync(users: 4);
        await using var _ = host;

        await PublishAndWaitAsync(host, Stored(runId, 1));
        await PublishAndWaitAsync(host, Stored(runId, 1));
        await PublishAndWaitAsync(host, Failed(runId, 2, "HTTP 400 from crew API"));
        await PublishAndWaitAsync(host, Stored(runId, 3));
        Assert.Equal(RunStatus.Running, (await host.RunAsync(runId))!.Status);

        await PublishAndWaitAsync(host, Stored(runId, 4));
        await PublishAndWaitAsync(host, Stored(runId, 4));

        var run = await host.RunAsync(runId);
        Assert.Equal(RunStatus.Completed, run!.Status);
        Assert.Equal(Now, run.CompletedAt);
        Assert.Equal((4, 3, 1, 0), (run.Dispatched, run.Succeeded, run.Failed, run.Skipped));

        var completed = Assert.Single(host.PublishedSoFar<CrewRunCompleted>(), c => c.RunId == runId);
        Assert.Equal((4, 3, 1, 0), (completed.Dispatched, completed.Succeeded, completed.Failed, completed.Skipped));

        var failed = Assert.Single(await host.RunUsersAsync(runId), u => u.Status == RunUserStatus.Failed);
        Assert.Equal((SchedulerDatabase.UserUid(2), "HTTP 400 from crew API"), (failed.UserUid, failed.Reason));
    }

    [Fact]
    public async Task A_failed_user_whose_replay_succeeds_moves_from_failed_to_succeeded()
    {
        var (host, runId) = await StartRunAsync(users: 2);
        await using var _ = host;

        await PublishAndWaitAsync(host, Stored(runId, 1));
        await PublishAndWaitAsync(host, Failed(runId, 2, "timed out after 600 s"));
        Assert.Equal((1, 1, RunStatus.Completed), await CountsAsync(host, runId));

        await PublishAndWaitAsync(host, Stored(runId, 2));

        Assert.Equal((2, 0, RunStatus.Completed), await CountsAsync(host, runId));
        Assert.DoesNotContain(await host.RunUsersAsync(runId), u => u.Status == RunUserStatus.Failed);
        Assert.Single(host.PublishedSoFar<CrewRunCompleted>(), c => c.RunId == runId);
    }

    [Fact]
    public async Task A_failure_after_a_success_or_a_repeated_failure_changes_nothing()
    {
        var (host, runId) = await StartRunAsync(users: 3);
        await using var _ = host;

        await PublishAndWaitAsync(host, Stored(runId, 1));
        await PublishAndWaitAsync(host, Failed(runId, 1, "late failure"));
        await PublishAndWaitAsync(host, Failed(runId, 2, "first reason"));
        await PublishAndWaitAsync(host, Failed(runId, 2, "second reason"));

        Assert.Equal((1, 1, RunStatus.Running), await CountsAsync(host, runId));
        var users = await host.RunUsersAsync(runId);
        Assert.Equal(RunUserStatus.Succeeded, users[0].Status);
        Assert.Equal("first reason", users[1].Reason);
    }

    [Fact]
    public async Task Outcomes_for_an_unknown_run_are_ignored()
    {
        var (host, runId) = await StartRunAsync(users: 1);
        await using var _ = host;

        await PublishAndWaitAsync(host, Stored(Guid.NewGuid(), 1));
        await PublishAndWaitAsync(host, Failed(Guid.NewGuid(), 1, "whatever"));

        Assert.Equal((0, 0, RunStatus.Running), await CountsAsync(host, runId));
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM scheduler.runs WHERE id <> $1", runId));
    }

    private static async Task<(int Succeeded, int Failed, string Status)> CountsAsync(SchedulerTestHost host, Guid runId)
    {
        var run = await host.RunAsync(runId);
        return (run!.Succeeded, run.Failed, run.Status);
    }
}
