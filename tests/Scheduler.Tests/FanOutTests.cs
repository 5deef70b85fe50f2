using CrewPlatform.Contracts;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Testing;
using Microsoft.Extensions.Time.Testing;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>The paged fan-out of a run, through the real consumers on the in-memory harness over real PostgreSQL.</summary>
public sealed class FanOutTests(SchedulerDatabase database) : IClassFixture<SchedulerDatabase>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private async Task<SchedulerTestHost> StartAsync(int pageSize)
    {
        var host = await SchedulerTestHost.StartAsync(database, new FakeTimeProvider(DateTimeOffset.UtcNow), new Dictionary<string, string?>
        {
            ["CREW_SCHEDULER_PAGE_SIZE"] = pageSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        await database.ResetAsync();
        return host;
    }

    private static Task FanOutCompletedAsync(SchedulerTestHost host, Guid runId) =>
        Eventually.HoldsAsync(async () => (await host.RunAsync(runId))?.FanOutCompleted == true, $"run {runId} has read its last page", Timeout);

    [Fact]
    public async Task A_page_of_500_users_becomes_500_commands_and_the_next_page_event()
    {
        await using var host = await StartAsync(pageSize: 500);
        await database.AddUsersAsync(500);

        var run = await host.RunNowAsync();
        await FanOutCompletedAsync(host, run.Id);

        var commands = host.SentSoFar<RunCrewForUser>().Where(c => c.RunId == run.Id).ToList();
        Assert.Equal(500, commands.Count);
        Assert.Equal(Enumerable.Range(1, 500).Select(SchedulerDatabase.UserUid), commands.Select(c => c.UserUid).Order(StringComparer.Ordinal));
        Assert.All(commands, c => Assert.StartsWith("context ", c.Context, StringComparison.Ordinal));

        var nextPage = Assert.Single(host.PublishedSoFar<UserBatchDue>(), p => p.RunId == run.Id && p.PageNumber == 2);
        Assert.Equal(SchedulerDatabase.UserUid(500), nextPage.AfterUserUid);
        Assert.Equal(500, nextPage.PageSize);

        var stored = await host.RunAsync(run.Id);
        Assert.Equal(500, stored!.Dispatched);
        Assert.Equal(0, stored.Skipped);
    }

    [Fact]
    public async Task Users_whose_context_and_goal_are_both_empty_are_skipped_and_counted()
    {
        await using var host = await StartAsync(pageSize: 500);
        (string?, string?)[] fields = [(null, null), ("", "   "), ("background", null), (null, "grow"), (" ", ""), ("background", "grow")];
        await database.AddUsersAsync(fields.Length, i => fields[i - 1]);

        var run = await host.RunNowAsync();
        await FanOutCompletedAsync(host, run.Id);

        // The only page is recorded (fan-out complete) before its commands are sent.
        await Eventually.HoldsAsync(() => host.SentSoFar<RunCrewForUser>().Count(c => c.RunId == run.Id) >= 3, "the page's commands were sent", Timeout);
        var sent = host.SentSoFar<RunCrewForUser>().Where(c => c.RunId == run.Id).Select(c => c.UserUid).Order(StringComparer.Ordinal);
        Assert.Equal([SchedulerDatabase.UserUid(3), SchedulerDatabase.UserUid(4), SchedulerDatabase.UserUid(6)], sent);

        var stored = await host.RunAsync(run.Id);
        Assert.Equal(3, stored!.Dispatched);
        Assert.Equal(3, stored.Skipped);
        var users = await host.RunUsersAsync(run.Id);
        Assert.Equal(
            [RunUserStatus.Skipped, RunUserStatus.Skipped, RunUserStatus.Dispatched, RunUserStatus.Dispatched, RunUserStatus.Skipped, RunUserStatus.Dispatched],
            users.Select(u => u.Status));
    }

    [Fact]
    public async Task Users_1234_with_a_page_size_of_500_make_exactly_three_pages()
    {
        await using var host = await StartAsync(pageSize: 500);
        await database.AddUsersAsync(1234);

        var run = await host.RunNowAsync();
        await FanOutCompletedAsync(host, run.Id);

        // The last page is recorded (fan-out complete) before its commands are sent and its consumer finishes.
        await Eventually.HoldsAsync(() => host.SentSoFar<RunCrewForUser>().Count(c => c.RunId == run.Id) >= 1234, "the last page's commands were sent", Timeout);
        await Eventually.HoldsAsync(() => host.ConsumedSoFar<UserBatchDue>().Count(p => p.RunId == run.Id) >= 3, "the last page was consumed", Timeout);
        var pages = host.ConsumedSoFar<UserBatchDue>().Where(p => p.RunId == run.Id).OrderBy(p => p.PageNumber).ToList();
        Assert.Equal([1, 2, 3], pages.Select(p => p.PageNumber));
        Assert.Equal([null, SchedulerDatabase.UserUid(500), SchedulerDatabase.UserUid(1000)], pages.Select(p => p.AfterUserUid));

        var commands = host.SentSoFar<RunCrewForUser>().Where(c => c.RunId == run.Id).ToList();
        Assert.Equal(1234, commands.Count);
        Assert.Equal(1234, commands.Select(c => c.UserUid).Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(1234, (await host.RunAsync(run.Id))!.Dispatched);
    }

    [Fact]
    public async Task A_redelivered_page_sends_its_users_again_but_counts_them_once()
    {
        await using var host = await StartAsync(pageSize: 10);
        await database.AddUsersAsync(7, i => i <= 2 ? (null, null) : ("background", "goal"));

        var run = await host.RunNowAsync();
        await FanOutCompletedAsync(host, run.Id);

        await host.Harness.Bus.Publish(new UserBatchDue { RunId = run.Id, AfterUserUid = null, PageSize = 10, PageNumber = 1 });
        await Eventually.HoldsAsync(() => host.ConsumedSoFar<UserBatchDue>().Count(p => p.RunId == run.Id) == 2, "the page came twice", Timeout);
        await Eventually.HoldsAsync(() => host.SentSoFar<RunCrewForUser>().Count(c => c.RunId == run.Id) == 10, "the page's 5 users were sent twice", Timeout);

        var stored = await host.RunAsync(run.Id);
        Assert.Equal(5, stored!.Dispatched);
        Assert.Equal(2, stored.Skipped);
    }

    [Fact]
    public async Task A_run_over_an_empty_users_table_completes_at_once()
    {
        await using var host = await StartAsync(pageSize: 500);

        var run = await host.RunNowAsync();

        await Eventually.HoldsAsync(() => host.PublishedSoFar<CrewRunCompleted>().Any(c => c.RunId == run.Id), "the run completed", Timeout);
        var completed = Assert.Single(host.PublishedSoFar<CrewRunCompleted>(), c => c.RunId == run.Id);
        Assert.Equal((0, 0, 0, 0), (completed.Dispatched, completed.Succeeded, completed.Failed, completed.Skipped));
        Assert.Equal(RunStatus.Completed, (await host.RunAsync(run.Id))!.Status);
    }

    [Fact]
    public async Task A_page_of_an_unknown_run_sends_nothing()
    {
        await using var host = await StartAsync(pageSize: 500);
        await database.AddUsersAsync(3);
        var unknownRun = Guid.NewGuid();

        await host.Harness.Bus.Publish(new UserBatchDue { RunId = unknownRun, AfterUserUid = null, PageSize = 500, PageNumber = 1 });

        await Eventually.HoldsAsync(() => host.ConsumedSoFar<UserBatchDue>().Any(p => p.RunId == unknownRun), "the page was consumed", Timeout);
        Assert.DoesNotContain(host.SentSoFar<RunCrewForUser>(), c => c.RunId == unknownRun);
        Assert.Equal(0L, await database.ScalarAsync<long>("SELECT count(*) FROM scheduler.run_users"));
    }
}
