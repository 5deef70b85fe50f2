using System.Diagnostics.Metrics;
using CrewPlatform.CrewCaller.Retention;
using CrewPlatform.CrewCaller.Tests.Support;
using CrewPlatform.ServiceDefaults.Retention;
using CrewPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CrewPlatform.CrewCaller.Tests.Integration;

/// <summary>
/// The ledger's run-history retention over real PostgreSQL at a fixed now: recorded outcomes older than
/// <c>CREW_RUN_HISTORY_RETAIN_DAYS</c> go, claims never; spend scopes and cancel marks go once nothing reads them.
/// </summary>
public sealed class LedgerRetentionTests(CrewCallerDatabase database) : IClassFixture<CrewCallerDatabase>, IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    private static readonly DateTimeOffset Cutoff = Now.AddDays(-2);

    private static readonly DateTimeOffset Ancient = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    private NpgsqlDataSource dataSource = null!;

    public async Task InitializeAsync()
    {
        dataSource = NpgsqlDataSource.Create(database.PostgresConnectionString);
        await database.ExecuteAsync("TRUNCATE crew_caller.crew_calls, crew_caller.spend_scopes, crew_caller.cancelled_runs, crew_caller.endpoint_pace");
    }

    public async Task DisposeAsync()
    {
        await dataSource.DisposeAsync();
        await services.DisposeAsync();
    }

    [Fact]
    public async Task An_outcome_recorded_exactly_retain_days_ago_is_kept_and_one_a_microsecond_earlier_goes_whatever_the_outcome()
    {
        var run = Guid.NewGuid();
        await RowAsync(run, "exactly", "succeeded", Cutoff);
        await RowAsync(run, "older-succeeded", "succeeded", Cutoff.AddTicks(-10));
        await RowAsync(run, "older-failed", "failed", Cutoff.AddDays(-1));
        await RowAsync(run, "older-skipped", "skipped", Cutoff.AddDays(-30));

        var pass = await Retention(retainDays: 2).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal((true, 3L), (pass.Ran, pass.Of("crew_calls")));
        Assert.Equal(["exactly"], await UsersAsync());
    }

    [Fact]
    public async Task A_claim_is_never_deleted_whatever_its_age()
    {
        var run = Guid.NewGuid();
        await RowAsync(run, "calling", "calling", finishedAt: null, startedAt: Ancient);
        // A failed row a replay has reclaimed, as the ledger leaves it should its finish time remain.
        await RowAsync(run, "replaying", "calling", finishedAt: Ancient, startedAt: Ancient);

        var pass = await Retention(retainDays: 2).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(0, pass.Total);
        Assert.Equal(["calling", "replaying"], await UsersAsync());
    }

    [Fact]
    public async Task Spend_scopes_go_once_no_budget_reads_them_and_endpoint_pace_stays()
    {
        var gone = Guid.NewGuid();
        var kept = Guid.NewGuid();
        await RowAsync(gone, "u", "succeeded", Ancient);
        await RowAsync(kept, "u", "succeeded", Now.AddHours(-1));
        await database.ExecuteAsync(
            $"""
            INSERT INTO crew_caller.spend_scopes (scope, calls, reserved, spent) VALUES
                ('run:{gone}', 1, 0, 2), ('run:{kept}', 1, 0, 2),
                ('schedule:3:2026-12-01', 5, 0, 10), ('schedule:3:2026-12-02', 5, 0, 10),
                ('run:{gone}:2026-11-01', 1, 0, 2), ('schedule:4:2026-11-01', 1, 0.5, 2);
            INSERT INTO crew_caller.endpoint_pace (endpoint, next_start_at, paused_until) VALUES ('default', '2020-01-01Z', '2020-01-01Z');
            """);

        var pass = await Retention(retainDays: 2).RunOnceAsync(Now, CancellationToken.None);

        // The day of 1 December ended before the cutoff (2 December, noon); the 2nd has not; a reservation holds its scope.
        Assert.Equal(3, pass.Of("spend_scopes"));
        Assert.Equal(
            [$"run:{kept}", "schedule:3:2026-12-02", "schedule:4:2026-11-01"],
            await StringsAsync("SELECT scope FROM crew_caller.spend_scopes ORDER BY scope"));
        Assert.Equal(1L, await database.ScalarAsync<long>("SELECT count(*) FROM crew_caller.endpoint_pace"));
    }

    [Fact]
    public async Task A_cancel_mark_goes_once_it_is_old_and_its_run_has_no_ledger_row_left()
    {
        var (withoutRows, withRow, recent) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await RowAsync(withRow, "u", "skipped", Now.AddHours(-1));
        await database.ExecuteAsync(
            "INSERT INTO crew_caller.cancelled_runs (run_id, cancelled_at) VALUES ($1, $4), ($2, $4), ($3, $5)",
            withoutRows, withRow, recent, Ancient, Now.AddDays(-1));

        var pass = await Retention(retainDays: 2).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(1, pass.Of("cancelled_runs"));
        Assert.Equal(
            new[] { withRow, recent }.Select(id => id.ToString()).Order(),
            await StringsAsync("SELECT run_id::text FROM crew_caller.cancelled_runs ORDER BY run_id::text"));
    }

    [Fact]
    public async Task Fifty_old_rows_go_in_batches_of_seven_and_are_all_reported()
    {
        await database.ExecuteAsync(
            """
            INSERT INTO crew_caller.crew_calls (run_id, user_uid, status, attempts, claimed_by, lease_expires_at, started_at, finished_at)
            SELECT $1, 'user-' || i, 'succeeded', 1, 'i', $2, $2, $2 + i * interval '1 second' FROM generate_series(1, 50) i
            """,
            Guid.NewGuid(), Ancient);
        await RowAsync(Guid.NewGuid(), "kept", "succeeded", Now);

        var pass = await Retention(retainDays: 2, batch: 7).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal([("crew_calls", 50L), ("spend_scopes", 0L), ("cancelled_runs", 0L)], pass.Deleted);
        Assert.Equal(["kept"], await UsersAsync());
    }

    [Fact]
    public async Task Two_passes_at_once_delete_each_row_once()
    {
        await database.ExecuteAsync(
            """
            INSERT INTO crew_caller.crew_calls (run_id, user_uid, status, attempts, claimed_by, lease_expires_at, started_at, finished_at)
            SELECT $1, 'user-' || i, 'failed', 4, 'i', $2, $2, $2 FROM generate_series(1, 40) i
            """,
            Guid.NewGuid(), Ancient);

        var passes = await Task.WhenAll(
            Retention(retainDays: 2, batch: 3).RunOnceAsync(Now, CancellationToken.None),
            Retention(retainDays: 2, batch: 3).RunOnceAsync(Now, CancellationToken.None));

        Assert.Equal(40L, passes.Sum(p => p.Of("crew_calls")));
        Assert.Empty(await UsersAsync());
    }

    [Fact]
    public async Task Without_the_setting_nothing_is_deleted()
    {
        var run = Guid.NewGuid();
        await RowAsync(run, "u", "succeeded", Ancient);
        await database.ExecuteAsync("INSERT INTO crew_caller.cancelled_runs (run_id, cancelled_at) VALUES ($1, $2)", Guid.NewGuid(), Ancient);

        var pass = await Retention(retainDays: null).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal((true, 0L), (pass.Ran, pass.Total));
        Assert.Equal(["u"], await UsersAsync());
        Assert.Equal(1L, await database.ScalarAsync<long>("SELECT count(*) FROM crew_caller.cancelled_runs"));
    }

    [Fact]
    public async Task A_pass_another_replica_holds_is_skipped()
    {
        await RowAsync(Guid.NewGuid(), "u", "succeeded", Ancient);
        await using var otherReplica = database.OpenConnection();
        await using var transaction = await otherReplica.BeginTransactionAsync();
        await using (var takeLock = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({LedgerRetention.Key})", otherReplica, transaction))
        {
            await takeLock.ExecuteNonQueryAsync();
        }

        Assert.Equal(RunHistoryPass.NotThisReplica, await Retention(retainDays: 2).RunOnceAsync(Now, CancellationToken.None));
        Assert.Equal(["u"], await UsersAsync());
    }

    [Theory]
    [InlineData("1")]
    [InlineData("36501")]
    public void A_retention_shorter_than_two_days_or_absurdly_long_stops_the_service_naming_the_setting(string value)
    {
        using var factory = new ServiceApp<Program>(database, new Dictionary<string, string?> { ["CREW_RUN_HISTORY_RETAIN_DAYS"] = value });

        var error = Assert.Throws<OptionsValidationException>(() => factory.CreateClient());
        Assert.Contains("CREW_RUN_HISTORY_RETAIN_DAYS must be a whole number of days from 2 to 36500", error.Message, StringComparison.Ordinal);
    }

    private LedgerRetention Retention(int? retainDays, int batch = 1000) => new(
        dataSource,
        Options.Create(new RunHistoryRetentionOptions { RetainDays = retainDays, Batch = batch }),
        new RunHistoryRetentionMetrics(services.GetRequiredService<IMeterFactory>()),
        NullLogger<LedgerRetention>.Instance);

    private Task RowAsync(Guid runId, string user, string status, DateTimeOffset? finishedAt, DateTimeOffset? startedAt = null) =>
        database.ExecuteAsync(
            """
            INSERT INTO crew_caller.crew_calls (run_id, user_uid, status, attempts, claimed_by, lease_expires_at, started_at, finished_at)
            VALUES ($1, $2, $3, 1, 'instance', $4, $4, $5)
            """,
            runId, user, status, startedAt ?? finishedAt ?? Now, finishedAt is { } at ? (object)at : DBNull.Value);

    private Task<List<string>> UsersAsync() => StringsAsync("SELECT user_uid FROM crew_caller.crew_calls ORDER BY user_uid");

    private async Task<List<string>> StringsAsync(string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<string>();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }
}
