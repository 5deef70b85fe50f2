using System.Diagnostics.Metrics;
using CrewPlatform.Scheduler.Persistence;
using CrewPlatform.Scheduler.Retention;
using CrewPlatform.ServiceDefaults.Retention;
using CrewPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>
/// The run-history retention pass over real PostgreSQL at a fixed now: runs finished more than
/// <c>CREW_RUN_HISTORY_RETAIN_DAYS</c> ago go with their users; running runs, unannounced completions, each schedule's
/// latest run and this month's runs stay.
/// </summary>
public sealed class RunRetentionTests(SchedulerDatabase database) : IClassFixture<SchedulerDatabase>, IAsyncLifetime
{
    /// <summary>The fourth of the month: a run of November is old enough to go, one of December is this month's.</summary>
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    private static readonly DateTimeOffset Cutoff = Now.AddDays(-2);

    private static readonly DateTimeOffset LastMonth = new(2026, 11, 20, 8, 0, 0, TimeSpan.Zero);

    private readonly ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    private SchedulerTestHost host = null!;

    private NpgsqlDataSource dataSource = null!;

    public async Task InitializeAsync()
    {
        host = await SchedulerTestHost.StartAsync(database, new FakeTimeProvider(Now));
        await database.ResetAsync();
        dataSource = NpgsqlDataSource.Create(database.PostgresConnectionString);
    }

    public async Task DisposeAsync()
    {
        await dataSource.DisposeAsync();
        await host.DisposeAsync();
        await services.DisposeAsync();
    }

    [Fact]
    public async Task A_run_completed_exactly_retain_days_ago_is_kept_and_one_a_microsecond_earlier_goes_with_its_users()
    {
        var exactly = await AddAsync(Finished(completedAt: Cutoff), users: 2);
        var older = await AddAsync(Finished(completedAt: Cutoff.AddTicks(-10)), users: 3);

        var pass = await Retention(retainDays: 2).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal((true, 3L, 1L), (pass.Ran, pass.Of("run_users"), pass.Of("runs")));
        Assert.Equal([exactly], await RunIdsAsync());
        Assert.Empty(await host.RunUsersAsync(older));
        Assert.Equal(2, (await host.RunUsersAsync(exactly)).Count);
    }

    [Fact]
    public async Task Every_finished_status_goes_skipped_runs_by_their_record_time()
    {
        await AddAsync(Finished(RunStatus.Cancelled, Cutoff.AddDays(-1)), users: 1);
        await AddAsync(Finished(RunStatus.Skipped, Cutoff.AddDays(-1)));
        await AddAsync(Finished(RunStatus.Failed, completedAt: null));
        await AddAsync(Finished(RunStatus.Completed, Cutoff.AddDays(-1)));

        var pass = await Retention(retainDays: 2).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(4, pass.Of("runs"));
        Assert.Empty(await RunIdsAsync());
    }

    [Fact]
    public async Task Running_runs_and_unannounced_completions_are_kept_whatever_their_age()
    {
        var ancient = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var running = await AddAsync(new Run { Id = Guid.NewGuid(), StartedAt = ancient, LastProgressAt = ancient, Status = RunStatus.Running }, users: 2);
        var reopenedByRetryFailed = await AddAsync(new Run { Id = Guid.NewGuid(), StartedAt = ancient, LastProgressAt = Now, Status = RunStatus.Running }, users: 1);
        var unannounced = Finished(completedAt: ancient);
        unannounced.CompletionPublishedAt = null;
        var unannouncedId = await AddAsync(unannounced, users: 1);

        var pass = await Retention(retainDays: 2).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(0, pass.Total);
        Assert.Equal(new[] { running, reopenedByRetryFailed, unannouncedId }.Order(), (await RunIdsAsync()).Order());
        Assert.Equal(2, (await host.RunUsersAsync(running)).Count);
    }

    [Fact]
    public async Task Each_schedule_keeps_its_latest_run_and_this_month_keeps_its_runs()
    {
        var first = await AddAsync(Finished(completedAt: LastMonth, scheduleId: 7, startedAt: LastMonth.AddHours(-2)));
        var latestOfSeven = await AddAsync(Finished(completedAt: LastMonth, scheduleId: 7, startedAt: LastMonth.AddHours(-1)));
        var onlyOfEight = await AddAsync(Finished(RunStatus.Skipped, LastMonth, scheduleId: 8, startedAt: LastMonth));
        var thisMonthStart = new DateTimeOffset(2026, 12, 1, 0, 30, 0, TimeSpan.Zero);
        var thisMonth = await AddAsync(Finished(completedAt: thisMonthStart.AddMinutes(30), startedAt: thisMonthStart), users: 1);

        var pass = await Retention(retainDays: 2).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(1, pass.Of("runs"));
        Assert.DoesNotContain(first, await RunIdsAsync());
        Assert.Equal(new[] { latestOfSeven, onlyOfEight, thisMonth }.Order(), (await RunIdsAsync()).Order());
    }

    [Fact]
    public async Task Fifty_old_runs_and_their_users_go_in_batches_of_seven_and_are_all_reported()
    {
        for (var i = 0; i < 50; i++)
        {
            await AddAsync(Finished(completedAt: LastMonth.AddMinutes(i)), users: 1);
        }

        var kept = await AddAsync(Finished(completedAt: Now.AddHours(-1), startedAt: Now.AddHours(-2)), users: 1);

        var pass = await Retention(retainDays: 2, batch: 7).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal([("run_users", 50L), ("runs", 50L)], pass.Deleted);
        Assert.Equal([kept], await RunIdsAsync());
        Assert.Equal(1L, await database.ScalarAsync<long>("SELECT count(*) FROM scheduler.run_users"));
    }

    [Fact]
    public async Task Two_passes_at_once_delete_each_row_once()
    {
        for (var i = 0; i < 30; i++)
        {
            await AddAsync(Finished(completedAt: LastMonth.AddMinutes(i)), users: 2);
        }

        var passes = await Task.WhenAll(
            Retention(retainDays: 2, batch: 5).RunOnceAsync(Now, CancellationToken.None),
            Retention(retainDays: 2, batch: 5).RunOnceAsync(Now, CancellationToken.None));

        Assert.Equal((60L, 30L), (passes.Sum(p => p.Of("run_users")), passes.Sum(p => p.Of("runs"))));
        Assert.Empty(await RunIdsAsync());
    }

    [Fact]
    public async Task A_pass_another_replica_holds_is_skipped()
    {
        await AddAsync(Finished(completedAt: LastMonth), users: 1);
        await using var otherReplica = database.OpenConnection();
        await using var transaction = await otherReplica.BeginTransactionAsync();
        await using (var takeLock = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({RunRetention.Key})", otherReplica, transaction))
        {
            await takeLock.ExecuteNonQueryAsync();
        }

        var pass = await Retention(retainDays: 2).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(RunHistoryPass.NotThisReplica, pass);
        Assert.Single(await RunIdsAsync());
    }

    [Fact]
    public async Task Without_the_setting_nothing_is_deleted()
    {
        await AddAsync(Finished(completedAt: new DateTimeOffset(2001, 1, 1, 0, 0, 0, TimeSpan.Zero)), users: 2);

        var pass = await Retention(retainDays: null).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal((true, 0L), (pass.Ran, pass.Total));
        Assert.Single(await RunIdsAsync());
        Assert.Equal(2L, await database.ScalarAsync<long>("SELECT count(*) FROM scheduler.run_users"));
    }

    [Fact]
    public async Task Each_pass_counts_every_table_in_the_metric_zeros_included()
    {
        await AddAsync(Finished(completedAt: LastMonth));
        using var recorder = new MetricRecorder(services);

        await Retention(retainDays: 2).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(0, recorder.Sum("crew_run_history_retention_deleted", ("table", "run_users")));
        Assert.Equal(1, recorder.Count("crew_run_history_retention_deleted", ("table", "run_users")));
        Assert.Equal(1, recorder.Sum("crew_run_history_retention_deleted", ("table", "runs")));
    }

    private RunRetention Retention(int? retainDays, int batch = 1000) => new(
        dataSource,
        Options.Create(new RunHistoryRetentionOptions { RetainDays = retainDays, Batch = batch }),
        new RunHistoryRetentionMetrics(services.GetRequiredService<IMeterFactory>()),
        NullLogger<RunRetention>.Instance);

    private static Run Finished(string status = RunStatus.Completed, DateTimeOffset? completedAt = null, int? scheduleId = null, DateTimeOffset? startedAt = null)
    {
        var started = startedAt ?? LastMonth.AddDays(-1);
        return new Run
        {
            Id = Guid.NewGuid(),
            Trigger = scheduleId is null ? RunTrigger.Manual : RunTrigger.Schedule,
            ScheduleId = scheduleId,
            StartedAt = started,
            CompletedAt = completedAt,
            LastProgressAt = completedAt ?? started,
            Status = status,
            CompletionPublishedAt = status is RunStatus.Completed or RunStatus.Cancelled ? completedAt : null,
        };
    }

    private async Task<Guid> AddAsync(Run run, int users = 0)
    {
        await host.AddRunAsync(run, Enumerable.Range(1, users)
            .Select(i => new RunUser { RunId = run.Id, UserUid = SchedulerDatabase.UserUid(i), Status = RunUserStatus.Succeeded })
            .ToArray());
        return run.Id;
    }

    private async Task<List<Guid>> RunIdsAsync() => (await host.RunsAsync()).Select(r => r.Id).ToList();
}

/// <summary>The service's own run-history pass, on a fake clock, and its settings.</summary>
public sealed class RunRetentionServiceTests(SchedulerDatabase database) : IClassFixture<SchedulerDatabase>
{
    [Theory]
    [InlineData("CREW_RUN_HISTORY_RETAIN_DAYS", "1", "CREW_RUN_HISTORY_RETAIN_DAYS must be a whole number of days from 2 to 36500")]
    [InlineData("CREW_RUN_HISTORY_RETAIN_DAYS", "0", "CREW_RUN_HISTORY_RETAIN_DAYS must be a whole number of days from 2 to 36500")]
    [InlineData("CREW_RUN_HISTORY_RETAIN_DAYS", "36501", "CREW_RUN_HISTORY_RETAIN_DAYS must be a whole number of days from 2 to 36500")]
    [InlineData("CREW_RUN_HISTORY_RETENTION_INTERVAL_MINUTES", "0", "CREW_RUN_HISTORY_RETENTION_INTERVAL_MINUTES must be a whole number from 1 to 10080")]
    [InlineData("CREW_RUN_HISTORY_RETENTION_BATCH", "100001", "CREW_RUN_HISTORY_RETENTION_BATCH must be a whole number from 1 to 100000")]
    public void A_bad_setting_stops_the_service_at_startup_naming_it(string setting, string value, string message)
    {
        using var factory = new ServiceApp<Program>(database, new Dictionary<string, string?> { [setting] = value });

        var error = Assert.Throws<OptionsValidationException>(() => factory.CreateClient());
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_setting_that_is_not_a_number_stops_the_service_naming_it()
    {
        using var factory = new ServiceApp<Program>(database, new Dictionary<string, string?> { ["CREW_RUN_HISTORY_RETAIN_DAYS"] = "a week" });

        var error = Assert.ThrowsAny<InvalidOperationException>(() => factory.CreateClient());
        Assert.Contains("CREW_RUN_HISTORY_RETAIN_DAYS", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_service_runs_a_pass_at_startup_and_again_after_each_interval_on_its_clock()
    {
        await database.ResetAsync();
        var start = new DateTimeOffset(2031, 3, 10, 0, 0, 0, TimeSpan.Zero);
        var clock = new FakeTimeProvider(start);
        var old = await InsertRunAsync(start.AddDays(-20), start.AddDays(-3));
        var oldAfterOneInterval = await InsertRunAsync(start.AddDays(-20), start.AddDays(-2).AddMinutes(30));

        using var factory = new ServiceApp<Program>(
            database,
            new Dictionary<string, string?> { ["CREW_RUN_HISTORY_RETAIN_DAYS"] = "2", ["CREW_RUN_HISTORY_RETENTION_INTERVAL_MINUTES"] = "60" },
            services =>
            {
                services.AddTestHarness();
                services.AddSingleton<TimeProvider>(clock);
            });
        _ = factory.Server;

        await Eventually.HoldsAsync(async () => !await ExistsAsync(old), "the startup pass deleted the run finished 3 days ago");
        Assert.True(await ExistsAsync(oldAfterOneInterval));

        await Eventually.HoldsAsync(
            async () =>
            {
                clock.Advance(TimeSpan.FromMinutes(60));
                return !await ExistsAsync(oldAfterOneInterval);
            },
            "a pass after the interval deleted the run that had grown 2 days old");
    }

    private async Task<Guid> InsertRunAsync(DateTimeOffset startedAt, DateTimeOffset completedAt)
    {
        var id = Guid.NewGuid();
        await database.ExecuteAsync(
            """
            INSERT INTO scheduler.runs (id, trigger, started_at, completed_at, status, dispatched, succeeded, failed, skipped, cancelled,
                                        spent, budget_exhausted, fan_out_completed, next_page_number, last_progress_at, completion_published_at)
            VALUES ($1, 'manual', $2, $3, 'completed', 0, 0, 0, 0, 0, 0, false, true, 1, $3, $3)
            """,
            id, startedAt, completedAt);
        return id;
    }

    private async Task<bool> ExistsAsync(Guid runId) =>
        await database.ScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM scheduler.runs WHERE id = $1)", runId);
}
