using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Runs;
using CrewPlatform.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>
/// Outcomes recorded a batch at a time (<see cref="RunProgress.RecordOutcomesAsync"/>) over real PostgreSQL: batches
/// are composed by hand, so what one batch holds is known; and the batch consumers on the harness, for the completion.
/// </summary>
public sealed class OutcomeBatchTests(SchedulerDatabase database) : IClassFixture<SchedulerDatabase>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly DateTimeOffset Start = new(2025, 3, 3, 9, 0, 0, TimeSpan.Zero);

    private async Task<(SchedulerTestHost Host, FakeTimeProvider Clock, RunProgress Progress)> StartAsync()
    {
        var clock = new FakeTimeProvider(Start);
        var host = await SchedulerTestHost.StartAsync(database, clock);
        await database.ResetAsync();
        return (host, clock, host.Services.GetRequiredService<RunProgress>());
    }

    /// <summary>A run whose fan-out is done, with <paramref name="users"/> users dispatched and the given ones failed already.</summary>
    private static async Task<Guid> AddRunAsync(SchedulerTestHost host, int users, params int[] failed)
    {
        var run = new Run
        {
            Id = Guid.NewGuid(), StartedAt = Start, LastProgressAt = Start, Status = RunStatus.Running, FanOutCompleted = true,
            Dispatched = users, Failed = failed.Length,
        };
        await host.AddRunAsync(run, Enumerable.Range(1, users).Select(i => new RunUser
        {
            RunId = run.Id, UserUid = SchedulerDatabase.UserUid(i),
            Status = failed.Contains(i) ? RunUserStatus.Failed : RunUserStatus.Dispatched,
            Reason = failed.Contains(i) ? "earlier failure" : null,
        }).ToArray());
        return run.Id;
    }

    private static UserOutcome Success(Guid runId, int user) => UserOutcome.Success(runId, SchedulerDatabase.UserUid(user));

    private static UserOutcome Failure(Guid runId, int user, string reason) => UserOutcome.Failure(runId, SchedulerDatabase.UserUid(user), reason);

    private static async Task<(int Succeeded, int Failed, string Status)> CountsAsync(SchedulerTestHost host, Guid runId)
    {
        var run = await host.RunAsync(runId);
        return (run!.Succeeded, run.Failed, run.Status);
    }

    [Fact]
    public async Task A_batch_mixing_two_runs_moves_each_runs_counters_and_completes_only_the_run_it_completed()
    {
        var (host, clock, progress) = await StartAsync();
        await using var _ = host;
        var unfinished = await AddRunAsync(host, users: 3);
        var finished = await AddRunAsync(host, users: 2);
        clock.Advance(TimeSpan.FromMinutes(1));

        var completed = await progress.RecordOutcomesAsync(
            [Success(unfinished, 1), Failure(finished, 1, "HTTP 400 from crew API"), Success(unfinished, 2), Success(finished, 2)],
            CancellationToken.None);

        var completion = Assert.Single(completed);
        Assert.Equal((finished, 2, 1, 1, 0), (completion.RunId, completion.Dispatched, completion.Succeeded, completion.Failed, completion.Skipped));
        Assert.Equal(clock.GetUtcNow(), completion.CompletedAt);
        Assert.Equal((1, 1, RunStatus.Completed), await CountsAsync(host, finished));
        Assert.Equal((2, 0, RunStatus.Running), await CountsAsync(host, unfinished));
        Assert.Equal(clock.GetUtcNow(), (await host.RunAsync(unfinished))!.LastProgressAt);
        Assert.Equal(clock.GetUtcNow(), (await host.RunAsync(finished))!.LastProgressAt);
        var failed = Assert.Single(await host.RunUsersAsync(finished), u => u.Status == RunUserStatus.Failed);
        Assert.Equal((SchedulerDatabase.UserUid(1), "HTTP 400 from crew API"), (failed.UserUid, failed.Reason));
        Assert.Equal(
            [RunUserStatus.Succeeded, RunUserStatus.Succeeded, RunUserStatus.Dispatched],
            (await host.RunUsersAsync(unfinished)).Select(u => u.Status));
    }

    [Fact]
    public async Task Duplicates_within_one_batch_count_once_and_unknown_runs_or_users_are_ignored()
    {
        var (host, _, progress) = await StartAsync();
        await using var __ = host;
        var runId = await AddRunAsync(host, users: 3);

        var completed = await progress.RecordOutcomesAsync(
            [
                Success(runId, 1), Success(runId, 1), Failure(runId, 1, "late failure"),
                Failure(runId, 2, "first reason"), Failure(runId, 2, "second reason"),
                Success(Guid.NewGuid(), 3), Success(runId, 99),
            ],
            CancellationToken.None);

        Assert.Empty(completed);
        Assert.Equal((1, 1, RunStatus.Running), await CountsAsync(host, runId));
        var users = await host.RunUsersAsync(runId);
        Assert.Equal((RunUserStatus.Succeeded, null), (users[0].Status, users[0].Reason));
        Assert.Equal((RunUserStatus.Failed, "first reason"), (users[1].Status, users[1].Reason));
        Assert.Equal(RunUserStatus.Dispatched, users[2].Status);

        // The same batch again, as a redelivery: nothing moves.
        Assert.Empty(await progress.RecordOutcomesAsync([Success(runId, 1), Failure(runId, 2, "third reason")], CancellationToken.None));
        Assert.Equal((1, 1, RunStatus.Running), await CountsAsync(host, runId));
        Assert.Equal("first reason", (await host.RunUsersAsync(runId))[1].Reason);
    }

    [Fact]
    public async Task A_failure_and_a_success_of_one_user_in_one_batch_count_as_the_success_also_for_a_user_failed_before()
    {
        var (host, _, progress) = await StartAsync();
        await using var _ = host;
        var runId = await AddRunAsync(host, users: 3, failed: 3);

        var completed = await progress.RecordOutcomesAsync(
            [Failure(runId, 1, "timed out"), Success(runId, 1), Success(runId, 2), Failure(runId, 2, "late failure"), Success(runId, 3)],
            CancellationToken.None);

        var completion = Assert.Single(completed);
        Assert.Equal((3, 3, 0), (completion.Dispatched, completion.Succeeded, completion.Failed));
        Assert.Equal((3, 0, RunStatus.Completed), await CountsAsync(host, runId));
        Assert.All(await host.RunUsersAsync(runId), u => Assert.Equal((RunUserStatus.Succeeded, null), (u.Status, u.Reason)));
    }

    [Fact]
    public async Task Concurrent_batches_over_the_same_users_of_two_runs_neither_deadlock_nor_miscount()
    {
        const int Users = 300;
        var (host, _, progress) = await StartAsync();
        await using var _ = host;
        var first = await AddRunAsync(host, Users);
        var second = await AddRunAsync(host, Users);

        // Every user gets a success in one batch and a failure in another; the four batches list the same users in
        // different orders (runs and users ascending, descending, interleaved), as two Scheduler instances would.
        var users = Enumerable.Range(1, Users).ToList();
        List<UserOutcome> Outcomes(IEnumerable<int> order, Func<int, bool> succeeds, params Guid[] runs) =>
            [.. order.SelectMany(user => runs.Select(run => succeeds(user) ? Success(run, user) : Failure(run, user, $"failed {user}")))];
        var batches = new[]
        {
            Outcomes(users, user => user % 2 == 0, first, second),
            Outcomes(Enumerable.Reverse(users), user => user % 2 == 1, second, first),
            Outcomes(users.Where(u => u % 2 == 1).Concat(users.Where(u => u % 2 == 0)), user => user % 2 == 1, first, second),
            Outcomes(Enumerable.Reverse(users), user => user % 2 == 0, second, first),
        };

        using var go = new ManualResetEventSlim();
        var recording = batches.Select(batch => Task.Run(async () =>
        {
            go.Wait();
            return await progress.RecordOutcomesAsync(batch, CancellationToken.None);
        })).ToList();
        go.Set();
        var completions = (await Task.WhenAll(recording)).SelectMany(c => c).ToList();

        foreach (var runId in new[] { first, second })
        {
            Assert.Equal((Users, 0, RunStatus.Completed), await CountsAsync(host, runId));
            Assert.All(await host.RunUsersAsync(runId), u => Assert.Equal(RunUserStatus.Succeeded, u.Status));
            // Completed by the batch that gave its last user an outcome: later successes may still move failed users.
            var completion = Assert.Single(completions, c => c.RunId == runId);
            Assert.Equal((Users, Users), (completion.Dispatched, completion.Succeeded + completion.Failed));
        }
    }

    [Fact]
    public async Task Outcomes_redelivered_and_consumed_in_batches_complete_the_run_once_and_publish_the_completion_once()
    {
        const int Users = 150;
        var (host, _, _) = await StartAsync();
        await using var _ = host;
        var runId = await AddRunAsync(host, Users);

        var stored = Enumerable.Range(1, Users - 1)
            .Select(i => new CrewResponseStored { RunId = runId, UserUid = SchedulerDatabase.UserUid(i), ResponseId = i, StoredAt = Start })
            .ToList();
        var failed = new CrewCallFailed { RunId = runId, UserUid = SchedulerDatabase.UserUid(Users), Reason = "HTTP 400", StatusCode = 400, Attempts = 1, FailedAt = Start };
        await Task.WhenAll(
            host.Harness.Bus.PublishBatch(stored),
            host.Harness.Bus.PublishBatch(stored),
            host.Harness.Bus.Publish(failed),
            host.Harness.Bus.Publish(failed));

        await Eventually.HoldsAsync(
            () => host.ConsumedSoFar<CrewResponseStored>().Count(m => m.RunId == runId) == 2 * (Users - 1)
                && host.ConsumedSoFar<CrewCallFailed>().Count(m => m.RunId == runId) == 2,
            "every outcome was consumed", Timeout);
        await Eventually.HoldsAsync(
            async () => await database.ScalarAsync<bool>("SELECT completion_published_at IS NOT NULL FROM scheduler.runs WHERE id = $1", runId),
            "the completion was marked published", Timeout);

        Assert.Equal((Users - 1, 1, RunStatus.Completed), await CountsAsync(host, runId));
        var completion = Assert.Single(host.PublishedSoFar<CrewRunCompleted>(), c => c.RunId == runId);
        Assert.Equal((Users, Users - 1, 1, 0), (completion.Dispatched, completion.Succeeded, completion.Failed, completion.Skipped));
    }
}
