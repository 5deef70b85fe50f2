using System.Globalization;
using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Runs;
using CrewPlatform.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>
/// The run reconciler healing what crashes and lost messages leave behind, driven pass by pass under a fake clock
/// over real PostgreSQL, with the real consumers on the in-memory harness. Runs are written as a crashed scheduler
/// would have left them.
/// </summary>
public sealed class ReconcilerTests(SchedulerDatabase database) : IClassFixture<SchedulerDatabase>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly DateTimeOffset Start = new(2025, 3, 3, 9, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan PastFanOutStall = TimeSpan.FromSeconds(31);
    private static readonly TimeSpan PastRedispatchThreshold = TimeSpan.FromMinutes(15) + TimeSpan.FromSeconds(1);

    private async Task<SchedulerTestHost> StartAsync(FakeTimeProvider clock, int pageSize = 10, bool reset = true)
    {
        var host = await SchedulerTestHost.StartAsync(database, clock, new Dictionary<string, string?>
        {
            ["CREW_SCHEDULER_PAGE_SIZE"] = pageSize.ToString(CultureInfo.InvariantCulture),
        });
        if (reset)
        {
            await database.ResetAsync();
        }

        return host;
    }

    private static Run RunningRun(DateTimeOffset startedAt) => new()
    {
        Id = Guid.NewGuid(),
        Trigger = RunTrigger.Manual,
        StartedAt = startedAt,
        LastProgressAt = startedAt,
        Status = RunStatus.Running,
    };

    private static RunUser User(Guid runId, int user, string status, bool replayFailed = false) =>
        new() { RunId = runId, UserUid = SchedulerDatabase.UserUid(user), Status = status, ReplayFailed = replayFailed };

    private static List<RunCrewForUser> CommandsFor(SchedulerTestHost host, Guid runId) =>
        host.SentSoFar<RunCrewForUser>().Where(c => c.RunId == runId).ToList();

    private static async Task StoredAsync(SchedulerTestHost host, Guid runId, IEnumerable<string> userUids)
    {
        foreach (var uid in userUids)
        {
            await host.Harness.Bus.Publish(new CrewResponseStored { RunId = runId, UserUid = uid, ResponseId = 1, StoredAt = Start });
        }
    }

    [Fact]
    public async Task A_run_committed_without_its_first_page_is_fanned_out_by_the_reconciler_and_completes()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await StartAsync(clock);
        await database.AddUsersAsync(25);
        var run = RunningRun(Start);
        await host.AddRunAsync(run);

        var tooEarly = await host.ReconcileAsync();
        clock.Advance(PastFanOutStall);
        var stalled = await host.ReconcileAsync();
        await Eventually.HoldsAsync(async () => (await host.RunAsync(run.Id))?.FanOutCompleted == true, "the re-driven fan-out read its last page", Timeout);
        await StoredAsync(host, run.Id, CommandsFor(host, run.Id).Select(c => c.UserUid));

        await Eventually.HoldsAsync(() => host.PublishedSoFar<CrewRunCompleted>().Any(c => c.RunId == run.Id), "the run completed", Timeout);
        Assert.Equal(0, tooEarly.FanOutsRedriven);
        Assert.Equal(1, stalled.FanOutsRedriven);
        var page = Assert.Single(host.PublishedSoFar<UserBatchDue>(), p => p.RunId == run.Id && p.PageNumber == 1);
        Assert.Null(page.AfterUserUid);
        Assert.Equal(Enumerable.Range(1, 25).Select(SchedulerDatabase.UserUid), CommandsFor(host, run.Id).Select(c => c.UserUid).Order(StringComparer.Ordinal));
        var completed = await host.RunAsync(run.Id);
        Assert.Equal((RunStatus.Completed, 25, 25), (completed!.Status, completed.Dispatched, completed.Succeeded));
        Assert.NotNull(completed.CompletionPublishedAt);
    }

    [Fact]
    public async Task A_run_whose_first_page_could_not_be_published_stays_running_and_the_reconciler_fans_it_out()
    {
        var clock = new FakeTimeProvider(Start);
        var failingOnce = new Dictionary<string, string?> { ["CREW_SCHEDULER_PAGE_SIZE"] = "10" };
        await using var host = await SchedulerTestHost.StartAsync(database, clock, failingOnce, services =>
        {
            // One instance for the whole host, so only the very first publish fails.
            IPublishEndpoint? publisher = null;
            services.AddScoped(sp => publisher ??= FailingFirstPublish.Over(sp.GetRequiredService<IBus>()));
        });
        await database.ResetAsync();
        await database.AddUsersAsync(15);

        var run = await host.RunNowAsync();
        var afterFailedPublish = await host.RunAsync(run.Id);
        clock.Advance(PastFanOutStall);
        var pass = await host.ReconcileAsync();
        await Eventually.HoldsAsync(async () => (await host.RunAsync(run.Id))?.FanOutCompleted == true, "the re-driven fan-out read its last page", Timeout);

        Assert.Equal((RunStatus.Running, 0, (DateTimeOffset?)null), (afterFailedPublish!.Status, afterFailedPublish.Dispatched, afterFailedPublish.CompletedAt));
        Assert.Equal(1, pass.FanOutsRedriven);
        Assert.Equal(15, (await host.RunAsync(run.Id))!.Dispatched);

        // The last page is recorded (fan-out completed) before its commands are sent.
        await Eventually.HoldsAsync(() => CommandsFor(host, run.Id).Count >= 15, "the last page's commands were sent", Timeout);
        Assert.Equal(15, CommandsFor(host, run.Id).Count);
    }

    [Fact]
    public async Task A_fan_out_that_stopped_part_way_resumes_from_its_cursor_and_dispatches_every_user_once()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await StartAsync(clock);
        await database.AddUsersAsync(30);

        // Page 1 was recorded and sent; page 2 was lost.
        var run = RunningRun(Start);
        run.FanOutAfterUid = SchedulerDatabase.UserUid(10);
        run.NextPageNumber = 2;
        run.Dispatched = 10;
        await host.AddRunAsync(run, Enumerable.Range(1, 10).Select(i => User(run.Id, i, RunUserStatus.Dispatched)).ToArray());

        clock.Advance(PastFanOutStall);
        var pass = await host.ReconcileAsync();
        await Eventually.HoldsAsync(async () => (await host.RunAsync(run.Id))?.FanOutCompleted == true, "the resumed fan-out read its last page", Timeout);
        await Eventually.HoldsAsync(() => host.ConsumedSoFar<UserBatchDue>().Count(p => p.RunId == run.Id) >= 3, "the last page's consumer finished", Timeout);
        clock.Advance(PastFanOutStall);
        var afterCompletion = await host.ReconcileAsync();

        Assert.Equal(1, pass.FanOutsRedriven);
        Assert.Equal(0, afterCompletion.FanOutsRedriven);
        Assert.Equal([2, 3, 4], host.ConsumedSoFar<UserBatchDue>().Where(p => p.RunId == run.Id).Select(p => p.PageNumber).Order());
        Assert.Equal(Enumerable.Range(11, 20).Select(SchedulerDatabase.UserUid), CommandsFor(host, run.Id).Select(c => c.UserUid).Order(StringComparer.Ordinal));
        var stored = await host.RunAsync(run.Id);
        Assert.Equal((30, 5), (stored!.Dispatched, stored.NextPageNumber));
        Assert.Equal(30, (await host.RunUsersAsync(run.Id)).Count);
    }

    [Fact]
    public async Task Two_copies_of_one_page_carry_the_fan_out_on_once()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await StartAsync(clock);
        await database.AddUsersAsync(25);
        var run = RunningRun(Start);
        await host.AddRunAsync(run);

        // A slow page and its re-drive, in flight together.
        var page = new UserBatchDue { RunId = run.Id, AfterUserUid = null, PageSize = 10, PageNumber = 1 };
        await Task.WhenAll(host.Harness.Bus.Publish(page), host.Harness.Bus.Publish(page));
        await Eventually.HoldsAsync(async () => (await host.RunAsync(run.Id))?.FanOutCompleted == true, "the fan-out read its last page", Timeout);
        await Eventually.HoldsAsync(() => host.ConsumedSoFar<UserBatchDue>().Count(p => p.RunId == run.Id && p.PageNumber == 1) == 2, "both copies were consumed", Timeout);

        // The harness lists a page once its consumer has finished, a moment after the last page marked the fan-out complete.
        await Eventually.HoldsAsync(() => host.ConsumedSoFar<UserBatchDue>().Count(p => p.RunId == run.Id) >= 4, "the last page's consumer finished", Timeout);

        Assert.Equal([1, 1, 2, 3], host.ConsumedSoFar<UserBatchDue>().Where(p => p.RunId == run.Id).Select(p => p.PageNumber).Order());
        Assert.Equal(25, (await host.RunAsync(run.Id))!.Dispatched);
    }

    [Fact]
    public async Task A_completed_run_whose_completion_was_never_announced_gets_it_published_once()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await StartAsync(clock);

        // Crashed between committing the completion and publishing it.
        var unannounced = RunningRun(Start.AddMinutes(-10));
        (unannounced.Status, unannounced.CompletedAt, unannounced.FanOutCompleted) = (RunStatus.Completed, Start.AddMinutes(-1), true);
        (unannounced.Dispatched, unannounced.Succeeded, unannounced.Failed, unannounced.Skipped) = (3, 2, 1, 4);

        // Crashed after recording its last outcome, before completing.
        var uncompleted = RunningRun(Start.AddMinutes(-10));
        (uncompleted.FanOutCompleted, uncompleted.Dispatched, uncompleted.Succeeded) = (true, 2, 2);

        var announced = RunningRun(Start.AddMinutes(-10));
        (announced.Status, announced.CompletedAt, announced.CompletionPublishedAt, announced.FanOutCompleted) = (RunStatus.Completed, Start.AddMinutes(-1), Start.AddMinutes(-1), true);

        var stillWaiting = RunningRun(Start.AddMinutes(-10));
        (stillWaiting.FanOutCompleted, stillWaiting.Dispatched, stillWaiting.Succeeded) = (true, 2, 1);

        foreach (var run in new[] { unannounced, uncompleted, announced, stillWaiting })
        {
            await host.AddRunAsync(run);
        }

        var first = await host.ReconcileAsync();
        var second = await host.ReconcileAsync();

        Assert.Equal((2, 0), (first.CompletionsPublished, second.CompletionsPublished));
        var published = host.PublishedSoFar<CrewRunCompleted>();
        var late = Assert.Single(published, c => c.RunId == unannounced.Id);
        Assert.Equal((3, 2, 1, 4, Start.AddMinutes(-1)), (late.Dispatched, late.Succeeded, late.Failed, late.Skipped, late.CompletedAt));
        Assert.Single(published, c => c.RunId == uncompleted.Id);
        Assert.DoesNotContain(published, c => c.RunId == announced.Id || c.RunId == stillWaiting.Id);
        Assert.Equal(RunStatus.Completed, (await host.RunAsync(uncompleted.Id))!.Status);
        Assert.Equal(RunStatus.Running, (await host.RunAsync(stillWaiting.Id))!.Status);
        Assert.NotNull((await host.RunAsync(unannounced.Id))!.CompletionPublishedAt);
    }

    [Fact]
    public async Task A_completion_announced_by_the_consumer_is_not_announced_again()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await StartAsync(clock);

        var run = await host.RunNowAsync();
        await Eventually.HoldsAsync(async () => (await host.RunAsync(run.Id))?.CompletionPublishedAt is not null, "the empty run completed and announced it", Timeout);
        clock.Advance(TimeSpan.FromMinutes(5));
        var pass = await host.ReconcileAsync();

        Assert.Equal(0, pass.CompletionsPublished);
        Assert.Single(host.PublishedSoFar<CrewRunCompleted>(), c => c.RunId == run.Id);
    }

    [Fact]
    public async Task Dispatched_users_without_an_outcome_past_the_redispatch_threshold_get_their_command_again_and_nobody_else_does()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await StartAsync(clock);
        await database.AddUsersAsync(4);
        await database.ExecuteAsync("UPDATE public.users SET context = 'changed since' WHERE uid = $1", SchedulerDatabase.UserUid(3));

        // Users 1 and 2 have their outcome; 3 and 4 (4 moved back by retry-failed) never got one; 5 has left the users table.
        var lost = RunningRun(Start);
        (lost.FanOutCompleted, lost.Dispatched, lost.Succeeded, lost.Failed, lost.Skipped) = (true, 5, 1, 1, 1);
        await host.AddRunAsync(
            lost,
            User(lost.Id, 1, RunUserStatus.Succeeded),
            User(lost.Id, 2, RunUserStatus.Failed),
            User(lost.Id, 3, RunUserStatus.Dispatched),
            User(lost.Id, 4, RunUserStatus.Dispatched, replayFailed: true),
            User(lost.Id, 5, RunUserStatus.Dispatched),
            User(lost.Id, 6, RunUserStatus.Skipped));

        // Progressing recently: its users are merely waiting for slow crew calls.
        var progressing = RunningRun(Start);
        (progressing.FanOutCompleted, progressing.Dispatched) = (true, 1);
        await host.AddRunAsync(progressing, User(progressing.Id, 1, RunUserStatus.Dispatched));

        clock.Advance(TimeSpan.FromMinutes(14));
        await database.ExecuteAsync("UPDATE scheduler.runs SET last_progress_at = $1 WHERE id = $2", clock.GetUtcNow(), progressing.Id);
        var beforeThreshold = await host.ReconcileAsync();
        clock.SetUtcNow(Start + PastRedispatchThreshold);
        var pastThreshold = await host.ReconcileAsync();
        var again = await host.ReconcileAsync();

        Assert.Equal((0, 1, 0), (beforeThreshold.RunsRedispatched, pastThreshold.RunsRedispatched, again.RunsRedispatched));
        Assert.Empty(CommandsFor(host, progressing.Id));
        var commands = CommandsFor(host, lost.Id).OrderBy(c => c.UserUid, StringComparer.Ordinal).ToList();
        Assert.Equal([SchedulerDatabase.UserUid(3), SchedulerDatabase.UserUid(4)], commands.Select(c => c.UserUid));
        Assert.Equal(("changed since", false), (commands[0].Context, commands[0].ReplayFailed));
        Assert.Equal(("context 4", true), (commands[1].Context, commands[1].ReplayFailed));
        var gone = Assert.Single(await host.RunUsersAsync(lost.Id), u => u.UserUid == SchedulerDatabase.UserUid(5));
        Assert.Equal((RunUserStatus.Failed, RunCrewCommands.UserGoneReason), (gone.Status, gone.Reason));
        var stored = await host.RunAsync(lost.Id);
        Assert.Equal((1, 2, RunStatus.Running), (stored!.Succeeded, stored.Failed, stored.Status));
    }

    [Fact]
    public async Task Two_reconcilers_at_once_do_the_work_once()
    {
        var clock = new FakeTimeProvider(Start);
        await using var first = await StartAsync(clock, pageSize: 500);
        await using var second = await StartAsync(clock, pageSize: 500, reset: false);
        await database.AddUsersAsync(5);
        var crashed = RunningRun(Start);
        await first.AddRunAsync(crashed);
        var unannounced = RunningRun(Start);
        (unannounced.Status, unannounced.CompletedAt, unannounced.FanOutCompleted) = (RunStatus.Completed, Start, true);
        await first.AddRunAsync(unannounced);
        clock.Advance(PastFanOutStall);

        using var go = new ManualResetEventSlim();
        var passes = new[] { first, second, first, second }
            .Select(host => Task.Run(async () =>
            {
                go.Wait();
                return await host.ReconcileAsync();
            }))
            .ToList();
        go.Set();
        var results = await Task.WhenAll(passes);
        await Eventually.HoldsAsync(async () => (await first.RunAsync(crashed.Id))?.FanOutCompleted == true, "the re-driven fan-out completed", Timeout);

        Assert.Equal(1, results.Sum(r => r.FanOutsRedriven));
        Assert.Equal(1, results.Sum(r => r.CompletionsPublished));
        var hosts = new[] { first, second };
        Assert.Equal(1, hosts.Sum(h => h.PublishedSoFar<UserBatchDue>().Count(p => p.RunId == crashed.Id)));
        Assert.Equal(1, hosts.Sum(h => h.PublishedSoFar<CrewRunCompleted>().Count(c => c.RunId == unannounced.Id)));
        Assert.Equal(5, hosts.Sum(h => CommandsFor(h, crashed.Id).Count));
    }

    [Fact]
    public async Task A_replica_that_does_not_get_the_pass_lock_skips_the_pass()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await StartAsync(clock);
        var crashed = RunningRun(Start);
        await host.AddRunAsync(crashed);
        clock.Advance(PastFanOutStall);

        // Another replica in the middle of its pass.
        await using (var otherReplica = database.OpenConnection())
        await using (var transaction = await otherReplica.BeginTransactionAsync())
        {
            await using var takeLock = new Npgsql.NpgsqlCommand($"SELECT pg_advisory_xact_lock({RunReconciler.PassLockKey})", otherReplica, transaction);
            await takeLock.ExecuteNonQueryAsync();

            var skipped = await host.ReconcileAsync();

            Assert.Equal(ReconcilePass.NotThisReplica, skipped);
            Assert.DoesNotContain(host.PublishedSoFar<UserBatchDue>(), p => p.RunId == crashed.Id);
        }

        Assert.Equal(1, (await host.ReconcileAsync()).FanOutsRedriven);
    }
}
