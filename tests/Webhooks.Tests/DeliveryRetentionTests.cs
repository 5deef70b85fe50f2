using System.Diagnostics.Metrics;
using CrewPlatform.ServiceDefaults.Retention;
using CrewPlatform.Testing;
using CrewPlatform.Webhooks.Persistence;
using CrewPlatform.Webhooks.Retention;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace CrewPlatform.Webhooks.Tests;

/// <summary>A private database with the Webhooks' schema migrated, for tests that drive its tables directly.</summary>
public sealed class WebhooksDatabase : RealInfrastructure
{
    protected override IReadOnlyList<ServiceSchema> MigratedSchemas { get; } = [ServiceSchema.Of<WebhooksDbContext>(WebhooksDbContext.Schema)];
}

/// <summary>
/// The deliveries' run-history retention over real PostgreSQL at a fixed now: deliveries delivered more than
/// <c>CREW_RUN_HISTORY_RETAIN_DAYS</c> ago go with their attempts; pending and leased ones never.
/// </summary>
public sealed class DeliveryRetentionTests(WebhooksDatabase database) : IClassFixture<WebhooksDatabase>, IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    private static readonly DateTimeOffset Cutoff = Now.AddDays(-2);

    private static readonly DateTimeOffset Ancient = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly ServiceProvider services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    private NpgsqlDataSource dataSource = null!;

    private Guid subscription;

    public async Task InitializeAsync()
    {
        dataSource = NpgsqlDataSource.Create(database.PostgresConnectionString);
        await database.ExecuteAsync("TRUNCATE webhooks.delivery_attempts, webhooks.deliveries, webhooks.subscriptions CASCADE");
        subscription = Guid.NewGuid();
        await database.ExecuteAsync(
            "INSERT INTO webhooks.subscriptions (id, url, event_types, secret, created_at) VALUES ($1, 'https://example.com/hook', '{run.completed}', 'whsec_x', $2)",
            subscription, Ancient);
    }

    public async Task DisposeAsync()
    {
        await dataSource.DisposeAsync();
        await services.DisposeAsync();
    }

    [Fact]
    public async Task A_delivery_delivered_exactly_retain_days_ago_is_kept_and_one_a_microsecond_earlier_goes_with_its_attempts()
    {
        await DeliveryAsync("exactly", deliveredAt: Cutoff, attempts: 1);
        await DeliveryAsync("older", deliveredAt: Cutoff.AddTicks(-10), attempts: 3);

        var pass = await Retention(retainDays: 2).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal([("delivery_attempts", 3L), ("deliveries", 1L)], pass.Deleted);
        Assert.Equal(["exactly"], await EventIdsAsync());
        Assert.Equal(1L, await database.ScalarAsync<long>("SELECT count(*) FROM webhooks.delivery_attempts"));
    }

    [Fact]
    public async Task Pending_and_leased_deliveries_are_never_deleted_whatever_their_age()
    {
        await DeliveryAsync("pending", deliveredAt: null, attempts: 9, nextAttemptAt: Ancient);
        await DeliveryAsync("of-a-disabled-subscription", deliveredAt: null, attempts: 12, nextAttemptAt: Ancient.AddHours(8));
        await DeliveryAsync("leased", deliveredAt: null, attempts: 2, nextAttemptAt: Ancient, leaseUntil: Now.AddSeconds(20));
        await DeliveryAsync("never-tried", deliveredAt: null, attempts: 0, nextAttemptAt: Ancient);

        var pass = await Retention(retainDays: 2).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(0, pass.Total);
        Assert.Equal(4, (await EventIdsAsync()).Count);
        Assert.Equal(23L, await database.ScalarAsync<long>("SELECT count(*) FROM webhooks.delivery_attempts"));
    }

    [Fact]
    public async Task Fifty_old_deliveries_go_in_batches_of_seven_and_are_all_reported()
    {
        for (var i = 0; i < 50; i++)
        {
            await DeliveryAsync($"old-{i}", deliveredAt: Ancient.AddMinutes(i), attempts: i % 2 == 0 ? 1 : 0);
        }

        await DeliveryAsync("kept", deliveredAt: Now, attempts: 1);

        var pass = await Retention(retainDays: 2, batch: 7).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal([("delivery_attempts", 25L), ("deliveries", 50L)], pass.Deleted);
        Assert.Equal(["kept"], await EventIdsAsync());
    }

    [Fact]
    public async Task Two_passes_at_once_delete_each_row_once()
    {
        for (var i = 0; i < 30; i++)
        {
            await DeliveryAsync($"old-{i}", deliveredAt: Ancient, attempts: 2);
        }

        var passes = await Task.WhenAll(
            Retention(retainDays: 2, batch: 4).RunOnceAsync(Now, CancellationToken.None),
            Retention(retainDays: 2, batch: 4).RunOnceAsync(Now, CancellationToken.None));

        Assert.Equal((60L, 30L), (passes.Sum(p => p.Of("delivery_attempts")), passes.Sum(p => p.Of("deliveries"))));
        Assert.Empty(await EventIdsAsync());
    }

    [Fact]
    public async Task Without_the_setting_nothing_is_deleted()
    {
        await DeliveryAsync("old", deliveredAt: Ancient, attempts: 1);

        var pass = await Retention(retainDays: null).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal((true, 0L), (pass.Ran, pass.Total));
        Assert.Equal(["old"], await EventIdsAsync());
    }

    [Fact]
    public async Task Each_pass_counts_both_tables_in_the_metric()
    {
        await DeliveryAsync("old", deliveredAt: Ancient, attempts: 2);
        using var recorder = new MetricRecorder(services);

        await Retention(retainDays: 2).RunOnceAsync(Now, CancellationToken.None);

        Assert.Equal(2, recorder.Sum("crew_run_history_retention_deleted", ("table", "delivery_attempts")));
        Assert.Equal(1, recorder.Sum("crew_run_history_retention_deleted", ("table", "deliveries")));
    }

    [Theory]
    [InlineData("CREW_RUN_HISTORY_RETAIN_DAYS", "1", "CREW_RUN_HISTORY_RETAIN_DAYS must be a whole number of days from 2 to 36500")]
    [InlineData("CREW_RUN_HISTORY_RETENTION_BATCH", "0", "CREW_RUN_HISTORY_RETENTION_BATCH must be a whole number from 1 to 100000")]
    public void A_bad_setting_stops_the_service_naming_it(string setting, string value, string message)
    {
        using var factory = new ServiceApp<Program>(database, new Dictionary<string, string?> { [setting] = value });

        var error = Assert.Throws<OptionsValidationException>(() => factory.CreateClient());
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    private DeliveryRetention Retention(int? retainDays, int batch = 1000) => new(
        dataSource,
        Options.Create(new RunHistoryRetentionOptions { RetainDays = retainDays, Batch = batch }),
        new RunHistoryRetentionMetrics(services.GetRequiredService<IMeterFactory>()),
        NullLogger<DeliveryRetention>.Instance);

    private async Task DeliveryAsync(string eventId, DateTimeOffset? deliveredAt, int attempts, DateTimeOffset? nextAttemptAt = null, DateTimeOffset? leaseUntil = null)
    {
        var id = Guid.NewGuid();
        var createdAt = deliveredAt ?? nextAttemptAt ?? Now;
        await database.ExecuteAsync(
            """
            INSERT INTO webhooks.deliveries (id, subscription_id, event_id, event_type, payload, created_at, attempts, next_attempt_at, lease_until, delivered_at)
            VALUES ($1, $2, $3, 'run.completed', '{}', $4, $5, $6, $7, $8)
            """,
            id, subscription, eventId, createdAt, attempts, Nullable(nextAttemptAt), Nullable(leaseUntil), Nullable(deliveredAt));
        await database.ExecuteAsync(
            """
            INSERT INTO webhooks.delivery_attempts (delivery_id, attempt, started_at, status_code, duration_ms)
            SELECT $1, a, $2, 500, 10 FROM generate_series(1, $3) a
            """,
            id, createdAt, attempts);
    }

    private static object Nullable(DateTimeOffset? value) => value is { } at ? at : DBNull.Value;

    private async Task<List<string>> EventIdsAsync()
    {
        await using var command = dataSource.CreateCommand("SELECT event_id FROM webhooks.deliveries ORDER BY event_id");
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new List<string>();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }
}
