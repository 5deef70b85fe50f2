using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Runs;
using CrewPlatform.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>
/// "Skip what did not change" over real PostgreSQL: runs fan out page by page through the service's consumers, the
/// commands they send are observed, and each is answered as the ResponseStore would (<see cref="CrewResponseStored"/>,
/// stored at a chosen time); the next run on the same endpoint with <c>skipUnchanged</c> calls only the users whose
/// input changed or whose answer is too old.
/// </summary>
public sealed class SkipUnchangedTests(SchedulerDatabase database) : IClassFixture<SchedulerDatabase>
{
    private const int PageSize = 30;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private async Task<SchedulerTestHost> StartAsync()
    {
        var host = await SchedulerTestHost.StartAsync(
            database, new FakeTimeProvider(DateTimeOffset.UtcNow),
            new Dictionary<string, string?> { ["CREW_SCHEDULER_PAGE_SIZE"] = PageSize.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        await database.ResetAsync();
        return host;
    }

    private static string Uid(int i) => SchedulerDatabase.UserUid(i);

    private static RunTarget Target(int? freshForMinutes, string endpoint = CrewEndpointNames.Default) =>
        new(null, SegmentDefinition.All, endpoint, CrewPriority.Normal, SkipUnchangedForMinutes: freshForMinutes);

    /// <summary>Starts a run of every user, waits for its fan-out and its commands, and returns the uids it sent.</summary>
    private static async Task<(Run Run, List<string> Sent)> FanOutAsync(SchedulerTestHost host, RunTarget target)
    {
        var run = await host.InScopeAsync(services => services.GetRequiredService<RunStarter>().StartManualAsync(target, CancellationToken.None));
        await Eventually.HoldsAsync(
            async () => await host.RunAsync(run.Id) is { FanOutCompleted: true } stored
                && host.SentSoFar<RunCrewForUser>().Count(c => c.RunId == run.Id) >= stored.Dispatched,
            $"run {run.Id} has read its last page and sent its commands", Timeout);
        var sent = host.SentSoFar<RunCrewForUser>().Where(c => c.RunId == run.Id).Select(c => c.UserUid).ToList();
        return ((await host.RunAsync(run.Id))!, sent);
    }

    /// <summary>Answers every command of the run, as stored at <paramref name="storedAt"/> (by uid), and waits for the run to end.</summary>
    private static async Task<Run> AnswerAsync(SchedulerTestHost host, Guid runId, Func<string, DateTimeOffset>? storedAt = null)
    {
        var commands = host.SentSoFar<RunCrewForUser>().Where(c => c.RunId == runId).DistinctBy(c => c.UserUid).ToList();
        await host.Harness.Bus.PublishBatch(commands.Select((c, i) => new CrewResponseStored
        {
            RunId = runId, UserUid = c.UserUid, ResponseId = i + 1, StoredAt = storedAt?.Invoke(c.UserUid) ?? DateTimeOffset.UtcNow,
            Endpoint = c.Endpoint,
        }));
        await Eventually.HoldsAsync(
            async () => (await host.RunAsync(runId))!.Status != RunStatus.Running, $"run {runId} completed", Timeout);
        return (await host.RunAsync(runId))!;
    }

    private static async Task<Run> RunAndAnswerAsync(SchedulerTestHost host, RunTarget target, Func<string, DateTimeOffset>? storedAt = null)
    {
        var (run, _) = await FanOutAsync(host, target);
        return await AnswerAsync(host, run.Id, storedAt);
    }

    [Fact]
    public async Task A_run_over_100_users_of_whom_40_changed_their_goal_calls_exactly_those_40_and_counts_60_unchanged()
    {
        await using var host = await StartAsync();
        await database.AddUsersAsync(100);
        var first = await RunAndAnswerAsync(host, Target(60));
        Assert.Equal((100, 100, 0), (first.Dispatched, first.Succeeded, first.Unchanged));

        var changed = Enumerable.Range(1, 100).Where(i => i % 5 < 2).Select(Uid).ToList();
        Assert.Equal(40, changed.Count);
        await database.ExecuteAsync("UPDATE users SET goal = goal || ' (revised)' WHERE uid = ANY($1)", [changed.ToArray()]);

        var (second, sent) = await FanOutAsync(host, Target(60));

        Assert.Equal(40, sent.Count);
        Assert.Equal(changed, sent.Order(StringComparer.Ordinal));
        Assert.All(
            host.SentSoFar<RunCrewForUser>().Where(c => c.RunId == second.Id),
            c => Assert.EndsWith(" (revised)", c.Goal, StringComparison.Ordinal));
        var ended = await AnswerAsync(host, second.Id);
        Assert.Equal((RunStatus.Completed, 40, 40, 0, 0, 60), (ended.Status, ended.Dispatched, ended.Succeeded, ended.Failed, ended.Skipped, ended.Unchanged));
        await Eventually.HoldsAsync(() => host.PublishedSoFar<CrewRunCompleted>().Any(c => c.RunId == second.Id), "the second run's completion was published", Timeout);
        var completed = Assert.Single(host.PublishedSoFar<CrewRunCompleted>(), c => c.RunId == second.Id);
        Assert.Equal((40, 40, 60), (completed.Dispatched, completed.Succeeded, completed.Unchanged));
        var users = await host.RunUsersAsync(second.Id);
        Assert.Equal(60, users.Count(u => u.Status == RunUserStatus.Unchanged));
        Assert.All(users.Where(u => changed.Contains(u.UserUid)), u => Assert.Equal(RunUserStatus.Succeeded, u.Status));
    }

    [Fact]
    public async Task An_answer_older_than_freshForMinutes_is_called_again_and_a_younger_one_is_not()
    {
        await using var host = await StartAsync();
        await database.AddUsersAsync(2);
        var now = DateTimeOffset.UtcNow;
        await RunAndAnswerAsync(host, Target(null), uid => uid == Uid(1) ? now.AddMinutes(-61) : now.AddMinutes(-58));

        var (run, sent) = await FanOutAsync(host, Target(60));

        Assert.Equal([Uid(1)], sent);
        Assert.Equal((1, 1), (run.Dispatched, run.Unchanged));
    }

    [Fact]
    public async Task Any_change_of_context_or_goal_is_called_null_and_empty_included()
    {
        await using var host = await StartAsync();
        (string? Context, string? Goal)[] before =
        [
            ("context", "goal"), ("context", "goal"), (null, "goal"), ("", "goal"), ("ab", "c"), ("context", null), ("context", "goal"),
        ];
        (string? Context, string? Goal)[] after =
        [
            ("context", "goal"), ("context!", "goal"), ("", "goal"), (null, "goal"), ("a", "bc"), ("context", ""), ("context", "goal "),
        ];
        await database.AddUsersAsync(before.Length, i => before[i - 1]);
        await RunAndAnswerAsync(host, Target(60));
        for (var i = 1; i <= after.Length; i++)
        {
            await database.ExecuteAsync("UPDATE users SET context = $2, goal = $3 WHERE uid = $1", Uid(i), (object?)after[i - 1].Context ?? DBNull.Value, (object?)after[i - 1].Goal ?? DBNull.Value);
        }

        var (run, sent) = await FanOutAsync(host, Target(60));

        Assert.Equal(Enumerable.Range(2, after.Length - 1).Select(Uid), sent.Order(StringComparer.Ordinal));
        Assert.Equal((after.Length - 1, 1), (run.Dispatched, run.Unchanged));
        Assert.Equal(RunUserStatus.Unchanged, (await host.RunUsersAsync(run.Id)).Single(u => u.UserUid == Uid(1)).Status);
    }

    [Fact]
    public async Task A_later_answer_from_other_input_wins_over_an_older_identical_one()
    {
        await using var host = await StartAsync();
        await database.AddUsersAsync(1);
        await RunAndAnswerAsync(host, Target(null));
        await database.ExecuteAsync("UPDATE users SET goal = 'another goal'");
        await RunAndAnswerAsync(host, Target(null));
        await database.ExecuteAsync("UPDATE users SET goal = 'goal 1'");

        var (run, sent) = await FanOutAsync(host, Target(60));

        Assert.Equal([Uid(1)], sent);
        Assert.Equal(0, run.Unchanged);
    }

    [Fact]
    public async Task An_answer_on_another_endpoint_is_not_used_and_without_skipUnchanged_nobody_is_skipped()
    {
        await using var host = await StartAsync();
        await database.AddUsersAsync(3);
        await RunAndAnswerAsync(host, Target(null, endpoint: "premium"));

        var (otherEndpoint, sentThere) = await FanOutAsync(host, Target(60));
        Assert.Equal(3, sentThere.Count);
        Assert.Equal(0, otherEndpoint.Unchanged);
        await AnswerAsync(host, otherEndpoint.Id);

        var (withoutSkip, sentWithout) = await FanOutAsync(host, Target(null));
        Assert.Equal(3, sentWithout.Count);
        Assert.Equal(0, withoutSkip.Unchanged);
        await AnswerAsync(host, withoutSkip.Id);

        // Nobody to call: the last page completes the run.
        var (skipping, sentSkipping) = await FanOutAsync(host, Target(60));
        Assert.Empty(sentSkipping);
        await Eventually.HoldsAsync(
            () => host.PublishedSoFar<CrewRunCompleted>().Any(c => c.RunId == skipping.Id), "the run of unchanged users completed", Timeout);
        Assert.Equal((0, 3), (skipping.Dispatched, skipping.Unchanged));
        var completed = Assert.Single(host.PublishedSoFar<CrewRunCompleted>(), c => c.RunId == skipping.Id);
        Assert.Equal((RunStatus.Completed, 0, 3), (completed.Status, completed.Dispatched, completed.Unchanged));
    }

    [Fact]
    public async Task A_page_that_comes_again_sends_its_unchanged_users_nothing()
    {
        await using var host = await StartAsync();
        await database.AddUsersAsync(4);
        await RunAndAnswerAsync(host, Target(null));
        await database.ExecuteAsync("UPDATE users SET goal = 'new' WHERE uid = $1", Uid(4));
        var (run, sent) = await FanOutAsync(host, Target(60));
        Assert.Equal([Uid(4)], sent);

        await host.Harness.Bus.Publish(RunStarter.Page(run, afterUserUid: null, pageNumber: 1, pageSize: PageSize));
        await Eventually.HoldsAsync(() => host.SentSoFar<RunCrewForUser>().Count(c => c.RunId == run.Id) == 2, "the page's changed user was sent again", Timeout);

        Assert.All(host.SentSoFar<RunCrewForUser>().Where(c => c.RunId == run.Id), c => Assert.Equal(Uid(4), c.UserUid));
        Assert.Equal((1, 3), ((await host.RunAsync(run.Id))!.Dispatched, (await host.RunAsync(run.Id))!.Unchanged));
    }

    [Fact]
    public async Task The_preview_counts_unchanged_users_with_the_runs_own_statement_and_leaves_them_out_of_its_calls()
    {
        await using var host = await StartAsync();
        await database.AddUsersAsync(5, i => i == 5 ? (null, null) : ($"context {i}", $"goal {i}"));
        await RunAndAnswerAsync(host, Target(null));
        await database.ExecuteAsync("UPDATE users SET context = 'changed' WHERE uid = $1", Uid(2));

        var preview = await host.InScopeAsync(async services =>
        {
            var runPreview = services.GetRequiredService<RunPreview>();
            var segment = await runPreview.SegmentUsersAsync(SegmentDefinition.All, CrewEndpointNames.Default, 60, CancellationToken.None);
            var view = await runPreview.PreviewAsync(segment, CrewEndpointNames.Default, maxCalls: null, CancellationToken.None);
            var elsewhere = await runPreview.SegmentUsersAsync(SegmentDefinition.All, "premium", 60, CancellationToken.None);
            var everyone = await runPreview.SegmentUsersAsync(SegmentDefinition.All, CrewEndpointNames.Default, null, CancellationToken.None);
            return (view, elsewhere, everyone);
        });

        Assert.Equal((1, 3, 1), (preview.view.Users.Count, preview.view.Users.Unchanged, preview.view.ExpectedCalls));
        Assert.Equal([Uid(2)], preview.view.Users.First);
        Assert.Equal((4, 0), (preview.elsewhere.Count, preview.elsewhere.Unchanged));
        Assert.Equal((4, 0), (preview.everyone.Count, preview.everyone.Unchanged));

        var (run, sent) = await FanOutAsync(host, Target(60));
        Assert.Equal([Uid(2)], sent);
        Assert.Equal((1, 3, 1), (run.Dispatched, run.Unchanged, run.Skipped));
    }

    [Fact]
    public async Task A_retried_failure_records_the_input_its_replay_sent_and_a_resend_of_other_input_forgets_it()
    {
        await using var host = await StartAsync();
        await database.AddUsersAsync(2);
        var (first, _) = await FanOutAsync(host, Target(null));
        await host.Harness.Bus.PublishBatch(new[] { 1, 2 }.Select(i => new CrewCallFailed
        {
            RunId = first.Id, UserUid = Uid(i), Reason = "HTTP 500 from crew API", StatusCode = 500, Attempts = 3, FailedAt = DateTimeOffset.UtcNow,
        }));
        await Eventually.HoldsAsync(async () => (await host.RunAsync(first.Id))!.Status == RunStatus.Completed, "the first run completed with failures", Timeout);
        await database.ExecuteAsync("UPDATE users SET goal = 'replayed goal'");

        // Both replays go out with the new input; then user 2's command is sent again (as the reconciler would) with other
        // input than its replay carried, so it is unknown which of the two the answer comes from.
        await host.InScopeAsync(services => services.GetRequiredService<FailedUserRetry>().RetryAsync(first.Id, CancellationToken.None));
        await Eventually.HoldsAsync(
            () => host.SentSoFar<RunCrewForUser>().Count(c => c.RunId == first.Id && c.Goal == "replayed goal") == 2, "the replays were sent", Timeout);
        await database.ExecuteAsync("UPDATE users SET goal = 'third goal' WHERE uid = $1", Uid(2));
        await host.InScopeAsync(services => services.GetRequiredService<RunCrewCommands>().SendAsync(
            first.Id, [new DispatchedUser(Uid(2), ReplayFailed: true)], CancellationToken.None));
        await Eventually.HoldsAsync(
            () => host.SentSoFar<RunCrewForUser>().Any(c => c.RunId == first.Id && c.Goal == "third goal"), "the re-send was sent", Timeout);
        var digests = (await host.RunUsersAsync(first.Id)).Select(u => u.InputDigest is not null).ToList();
        Assert.Equal([true, false], digests);
        await AnswerAsync(host, first.Id);

        var (second, sent) = await FanOutAsync(host, Target(60));

        Assert.Equal([Uid(2)], sent);
        Assert.Equal(1, second.Unchanged);
    }
}
