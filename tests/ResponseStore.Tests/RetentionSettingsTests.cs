using CrewPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CrewPlatform.ResponseStore.Tests;

public sealed class RetentionSettingsTests(MigratedDatabase db) : IClassFixture<MigratedDatabase>
{
    [Theory]
    [InlineData("CREW_RESPONSES_RETAIN_DAYS", "0", "CREW_RESPONSES_RETAIN_DAYS must be a whole number of days from 1 to 36500")]
    [InlineData("CREW_RESPONSES_RETAIN_DAYS", "36501", "CREW_RESPONSES_RETAIN_DAYS must be a whole number of days from 1 to 36500")]
    [InlineData("CREW_RESPONSES_KEEP_PER_USER", "0", "CREW_RESPONSES_KEEP_PER_USER must be a whole number from 1 to 1000000")]
    [InlineData("CREW_RESPONSES_KEEP_PER_USER", "-3", "CREW_RESPONSES_KEEP_PER_USER must be a whole number from 1 to 1000000")]
    [InlineData("CREW_RESPONSES_RETENTION_INTERVAL_MINUTES", "0", "CREW_RESPONSES_RETENTION_INTERVAL_MINUTES must be a whole number from 1 to 10080")]
    [InlineData("CREW_RESPONSES_RETENTION_INTERVAL_MINUTES", "10081", "CREW_RESPONSES_RETENTION_INTERVAL_MINUTES must be a whole number from 1 to 10080")]
    [InlineData("CREW_RESPONSES_RETENTION_BATCH", "0", "CREW_RESPONSES_RETENTION_BATCH must be a whole number from 1 to 100000")]
    [InlineData("CREW_RESPONSES_RETENTION_BATCH", "100001", "CREW_RESPONSES_RETENTION_BATCH must be a whole number from 1 to 100000")]
    public void A_bad_retention_setting_stops_the_service_at_startup_naming_the_setting(string setting, string value, string message)
    {
        using var factory = new ServiceApp<Program>(db, new Dictionary<string, string?> { [setting] = value });

        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => factory.CreateClient());
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("CREW_RESPONSES_RETAIN_DAYS")]
    [InlineData("CREW_RESPONSES_KEEP_PER_USER")]
    [InlineData("CREW_RESPONSES_RETENTION_INTERVAL_MINUTES")]
    [InlineData("CREW_RESPONSES_RETENTION_BATCH")]
    public void A_retention_setting_that_is_not_a_number_stops_the_service_naming_the_setting(string setting)
    {
        using var factory = new ServiceApp<Program>(db, new Dictionary<string, string?> { [setting] = "ninety" });

        var error = Assert.ThrowsAny<InvalidOperationException>(() => factory.CreateClient());
        Assert.Contains(setting, error.Message, StringComparison.Ordinal);
    }
}

/// <summary>The service's own pass, on a fake clock: at startup, then again once the interval has passed.</summary>
public sealed class RetentionServiceTests(MigratedDatabase db) : IClassFixture<MigratedDatabase>
{
    private static readonly DateTimeOffset Start = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task The_service_runs_a_pass_at_startup_and_again_after_each_interval_on_its_clock()
    {
        var clock = new FakeTimeProvider(Start);
        var user = $"retention-service-{Guid.NewGuid():N}";
        await db.AddUsersAsync([(user, "context", "goal")]);
        // Both lie in the future of the real clock: only the fake one can make them old.
        var old = await InsertAsync(user, Start.UtcDateTime.AddDays(-31));
        var oldAfterOneInterval = await InsertAsync(user, Start.UtcDateTime.AddDays(-30).AddMinutes(30));
        var recent = await InsertAsync(user, Start.UtcDateTime.AddDays(-1));

        using var factory = new ServiceApp<Program>(
            db,
            new Dictionary<string, string?> { ["CREW_RESPONSES_RETAIN_DAYS"] = "30", ["CREW_RESPONSES_RETENTION_INTERVAL_MINUTES"] = "60" },
            services =>
            {
                services.AddTestHarness();
                services.AddSingleton<TimeProvider>(clock);
            });
        _ = factory.Server;

        await Eventually.HoldsAsync(async () => !(await IdsAsync(user)).Contains(old), "the startup pass deleted the answer 31 days old");
        Assert.Contains(oldAfterOneInterval, await IdsAsync(user));

        // Advanced an interval at a time, in case the service had not started waiting when the clock first moved.
        await Eventually.HoldsAsync(
            async () =>
            {
                clock.Advance(TimeSpan.FromMinutes(60));
                return !(await IdsAsync(user)).Contains(oldAfterOneInterval);
            },
            "a pass after the interval deleted the answer that had grown 30 days old");
        Assert.Equal([recent], await IdsAsync(user));
    }

    private async Task<int> InsertAsync(string user, DateTime createdAt) => await db.ScalarAsync<int>(
        "INSERT INTO crew_responses (user_uid, response_data, created_at) VALUES ($1, '{}', $2) RETURNING id", user, DateTime.SpecifyKind(createdAt, DateTimeKind.Unspecified));

    private async Task<List<int>> IdsAsync(string user)
    {
        await using var connection = db.OpenConnection();
        await using var command = new Npgsql.NpgsqlCommand("SELECT id FROM crew_responses WHERE user_uid = $1 ORDER BY id", connection);
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = user });
        var ids = new List<int>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetInt32(0));
        }

        return ids;
    }
}
