using System.Diagnostics.Metrics;
using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.ResponseStore.Retention;
using CrewPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CrewPlatform.ResponseStore.Tests;

/// <summary>
/// The retention pass over a real PostgreSQL database, at a fixed "now". Each test starts from an empty table: a pass
/// reads every user's answers.
/// </summary>
public sealed class RetentionTests(MigratedDatabase db) : IClassFixture<MigratedDatabase>, IAsyncLifetime
{
    /// <summary>The present of every pass here, a whole second so the boundaries below are exact microseconds.</summary>
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    private static readonly DateTime Today = Now.UtcDateTime;

    private readonly ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    private NpgsqlDataSource dataSource = null!;

    public async Task InitializeAsync()
    {
        dataSource = NpgsqlDataSource.Create(db.PostgresConnectionString);
        await db.ExecuteAsync("TRUNCATE crew_responses, response_store.run_origins");
    }

    public async Task DisposeAsync()
    {
        await dataSource.DisposeAsync();
        await services.DisposeAsync();
    }

    [Fact]
    public async Task An_answer_exactly_retain_days_old_is_kept_and_one_a_microsecond_older_is_deleted()
    {
        var user = await db.AddNewUserAsync("retention");
        var exactly = await InsertAsync(user, Today.AddDays(-30));
        var older = await InsertAsync(user, Today.AddDays(-30).AddTicks(-10));
        var recent = await InsertAsync(user, Today.AddHours(-1));

        var pass = await Retention(retainDays: 30).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(new RetentionCounts(true, 1, 0), Counts(pass));
        Assert.Equal([recent, exactly], await IdsAsync(user));
        Assert.DoesNotContain(older, await IdsAsync(user));
    }

    [Fact]
    public async Task Answers_without_a_creation_time_are_kept_by_both_rules_and_take_no_place()
    {
        var user = await db.AddNewUserAsync("retention");
        var undated = await InsertAsync(user, null);
        var old = await InsertAsync(user, Today.AddDays(-400));
        var newest = await InsertAsync(user, Today.AddDays(-1));
        var undatedToo = await InsertAsync(user, null);

        var pass = await Retention(retainDays: 30, keepPerUser: 1).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(new RetentionCounts(true, 1, 0), Counts(pass));
        Assert.DoesNotContain(old, await IdsAsync(user));
        Assert.Equal([undatedToo, undated, newest], await IdsAsync(user));
    }

    [Fact]
    public async Task The_per_user_cap_keeps_exactly_each_user_s_newest_answers_ties_broken_by_id()
    {
        var user = await db.AddNewUserAsync("retention");
        var other = await db.AddNewUserAsync("retention");
        var first = await InsertAsync(user, Today.AddDays(-900));
        var second = await InsertAsync(user, Today.AddDays(-5));
        var tiedLower = await InsertAsync(user, Today.AddDays(-2));
        var tiedHigher = await InsertAsync(user, Today.AddDays(-2));
        var newest = await InsertAsync(user, Today.AddDays(-1));
        var othersOld = await InsertAsync(other, Today.AddDays(-900));
        var othersNew = await InsertAsync(other, Today.AddDays(-1));

        var pass = await Retention(keepPerUser: 2).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(new RetentionCounts(true, 0, 3), Counts(pass));
        Assert.Equal([newest, tiedHigher], await IdsAsync(user));
        Assert.Equal([othersNew, othersOld], await IdsAsync(other));
        Assert.DoesNotContain(tiedLower, await IdsAsync(user));
        Assert.DoesNotContain(second, await IdsAsync(user));
        Assert.DoesNotContain(first, await IdsAsync(user));
    }

    [Fact]
    public async Task With_both_rules_an_answer_goes_when_either_says_so_and_age_counts_first()
    {
        var capped = await db.AddNewUserAsync("retention");
        var aged = await db.AddNewUserAsync("retention");
        var old = await InsertAsync(capped, Today.AddDays(-31));
        var third = await InsertAsync(capped, Today.AddDays(-3));
        var second = await InsertAsync(capped, Today.AddDays(-2));
        var first = await InsertAsync(capped, Today.AddDays(-1));
        await InsertAsync(aged, Today.AddDays(-90));

        var pass = await Retention(retainDays: 30, keepPerUser: 2).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(new RetentionCounts(true, 2, 1), Counts(pass));
        Assert.Equal([first, second], await IdsAsync(capped));
        Assert.Empty(await IdsAsync(aged));
        Assert.DoesNotContain(third, await IdsAsync(capped));
        Assert.DoesNotContain(old, await IdsAsync(capped));
    }

    [Fact]
    public async Task Without_a_rule_a_pass_deletes_nothing()
    {
        var user = await db.AddNewUserAsync("retention");
        for (var days = 0; days < 2000; days += 100)
        {
            await InsertAsync(user, Today.AddDays(-days));
        }

        await InsertAsync(user, null);

        var pass = await Retention().RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(new RetentionCounts(true, 0, 0), Counts(pass));
        Assert.Equal(21, (await IdsAsync(user)).Count);
    }

    [Fact]
    public async Task Fifty_old_answers_go_in_batches_of_seven_and_are_all_reported()
    {
        var user = await db.AddNewUserAsync("retention");
        await InsertManyAsync(user, 50, Today.AddDays(-60));
        var kept = await InsertAsync(user, Today);

        var pass = await Retention(retainDays: 30, batch: 7).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(new RetentionCounts(true, 50, 0), Counts(pass));
        Assert.Equal([kept], await IdsAsync(user));
    }

    [Fact]
    public async Task Fifty_answers_over_the_cap_of_ten_users_go_in_batches_of_seven_and_are_all_reported()
    {
        var users = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            var user = await db.AddNewUserAsync("retention");
            users.Add(user);
            await InsertManyAsync(user, 7, Today.AddDays(-1));
        }

        var pass = await Retention(keepPerUser: 2, batch: 7).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(new RetentionCounts(true, 0, 50), Counts(pass));
        foreach (var user in users)
        {
            Assert.Equal(2, (await IdsAsync(user)).Count);
        }

        Assert.Equal(20, await db.ScalarAsync<long>("SELECT count(*) FROM crew_responses"));
    }

    [Fact]
    public async Task Two_passes_started_at_once_delete_each_answer_once()
    {
        var user = await db.AddNewUserAsync("retention");
        await InsertManyAsync(user, 300, Today.AddDays(-60));
        var retention = Retention(retainDays: 30, batch: 7);
        var otherReplica = Retention(retainDays: 30, batch: 7);

        var passes = await Task.WhenAll(
            Task.Run(() => retention.RunOnceAsync(Now, CancellationToken.None)),
            Task.Run(() => otherReplica.RunOnceAsync(Now, CancellationToken.None)));

        Assert.Equal(300, passes.Sum(p => p.ByAge));
        Assert.Contains(passes, p => p.Ran);
        Assert.Empty(await IdsAsync(user));
    }

    [Fact]
    public async Task A_pass_while_another_replica_holds_the_lock_is_skipped_and_deletes_nothing()
    {
        var user = await db.AddNewUserAsync("retention");
        var old = await InsertAsync(user, Today.AddDays(-60));
        await using var otherReplica = db.OpenConnection();
        await using var transaction = await otherReplica.BeginTransactionAsync();
        await using (var takeLock = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({ResponseRetention.PassLockKey})", otherReplica, transaction))
        {
            await takeLock.ExecuteNonQueryAsync();
        }

        var pass = await Retention(retainDays: 30).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(RetentionPass.NotThisReplica, pass);
        Assert.Equal([old], await IdsAsync(user));
    }

    [Fact]
    public async Task Run_origins_stay_when_their_answers_go()
    {
        var user = await db.AddNewUserAsync("retention");
        var goneRun = Guid.NewGuid();
        var keptRun = Guid.NewGuid();
        await InsertAsync(user, Today.AddDays(-60), goneRun);
        await InsertAsync(user, Today.AddDays(-60), keptRun);
        await InsertAsync(await db.AddNewUserAsync("retention"), Today, keptRun);
        await db.ExecuteAsync("INSERT INTO response_store.run_origins (run_id, schedule_id, endpoint) VALUES ($1, 7, 'default'), ($2, 8, 'default')", goneRun, keptRun);

        var pass = await Retention(retainDays: 30).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(2, pass.ByAge);
        Assert.Equal(2, await db.ScalarAsync<long>("SELECT count(*) FROM response_store.run_origins"));
    }

    [Fact]
    public async Task A_new_answer_of_a_run_whose_origin_exists_is_stored_and_the_origin_kept_as_it_was()
    {
        var user = await db.AddNewUserAsync("retention");
        var second = await db.AddNewUserAsync("retention");
        var run = Guid.NewGuid();
        var writer = new CrewResponseBatchWriter(dataSource);

        await writer.StoreAsync([new IncomingCrewResponse(run, user, null, null, "{}", ScheduleId: 4, Endpoint: "default")], CancellationToken.None);
        var outcomes = await writer.StoreAsync([new IncomingCrewResponse(run, second, null, null, "{}", ScheduleId: 9, Endpoint: "other")], CancellationToken.None);

        Assert.True(Assert.IsType<StoreOutcome.Stored>(Assert.Single(outcomes)).Inserted);
        Assert.Equal("4 default", await db.ScalarAsync<string>("SELECT string_agg(schedule_id || ' ' || endpoint, ',') FROM response_store.run_origins WHERE run_id = $1", run));
    }

    [Fact]
    public async Task A_pass_counts_what_it_deleted_by_reason()
    {
        var user = await db.AddNewUserAsync("retention");
        await InsertAsync(user, Today.AddDays(-60));
        await InsertManyAsync(user, 3, Today.AddDays(-1));
        var measured = new Dictionary<string, long>();
        var meterFactory = services.GetRequiredService<IMeterFactory>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, meterFactory) && instrument.Name == "crew_responses_retention_deleted")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            var reason = (string)tags.ToArray().Single(t => t.Key == "reason").Value!;
            measured[reason] = measured.GetValueOrDefault(reason) + value;
        });
        listener.Start();

        await Retention(retainDays: 30, keepPerUser: 2).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(new Dictionary<string, long> { ["age"] = 1, ["per_user"] = 1 }, measured);
    }

    private ResponseRetention Retention(int? retainDays = null, int? keepPerUser = null, int batch = 1000) => new(
        dataSource,
        Options.Create(new ResponseStoreOptions { RetainDays = retainDays, KeepPerUser = keepPerUser, RetentionBatch = batch }),
        new ResponseStoreMetrics(services.GetRequiredService<IMeterFactory>()),
        NullLogger<ResponseRetention>.Instance);

    private static RetentionCounts Counts(RetentionPass pass) => new(pass.Ran, pass.ByAge, pass.ByPerUserCap);


    private async Task<int> InsertAsync(string user, DateTime? createdAt, Guid? runId = null)
    {
        await using var command = dataSource.CreateCommand(
            "INSERT INTO crew_responses (user_uid, response_data, created_at, run_id) VALUES (@user, '{}', @createdAt, @runId) RETURNING id");
        command.Parameters.Add(new NpgsqlParameter<string>("user", user));
        command.Parameters.Add(new NpgsqlParameter("createdAt", NpgsqlTypes.NpgsqlDbType.Timestamp)
        {
            Value = createdAt is { } at ? DateTime.SpecifyKind(at, DateTimeKind.Unspecified) : DBNull.Value,
        });
        command.Parameters.Add(new NpgsqlParameter("runId", NpgsqlTypes.NpgsqlDbType.Uuid) { Value = runId is { } id ? id : DBNull.Value });
        return (int)(await command.ExecuteScalarAsync())!;
    }

    private async Task InsertManyAsync(string user, int count, DateTime createdAt)
    {
        await using var command = dataSource.CreateCommand(
            "INSERT INTO crew_responses (user_uid, response_data, created_at) SELECT @user, '{}', @createdAt FROM generate_series(1, @count)");
        command.Parameters.Add(new NpgsqlParameter<string>("user", user));
        command.Parameters.Add(new NpgsqlParameter<DateTime>("createdAt", DateTime.SpecifyKind(createdAt, DateTimeKind.Unspecified)) { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Timestamp });
        command.Parameters.Add(new NpgsqlParameter<int>("count", count));
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>The user's answers in the list's order: undated first, then newest first, ties by the higher id.</summary>
    private async Task<List<int>> IdsAsync(string user)
    {
        await using var command = dataSource.CreateCommand("SELECT id FROM crew_responses WHERE user_uid = @user ORDER BY created_at DESC, id DESC");
        command.Parameters.Add(new NpgsqlParameter<string>("user", user));
        var ids = new List<int>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetInt32(0));
        }

        return ids;
    }

    private sealed record RetentionCounts(bool Ran, long ByAge, long ByPerUserCap);
}
