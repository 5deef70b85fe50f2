using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace CrewPlatform.ResponseStore.Tests;

/// <summary>
/// The migration that gives answers their endpoint, run over answers stored before it: each run's answers get their
/// run's endpoint (the default one without an origin), posted answers none, and none has a previous answer.
/// </summary>
public sealed class AnswerChangesMigrationTests(FreshDatabase database) : IClassFixture<FreshDatabase>
{
    [Fact]
    public async Task Answers_stored_before_it_get_their_run_s_endpoint_and_the_next_answer_compares_with_them()
    {
        var options = new DbContextOptionsBuilder<ResponseStoreDbContext>();
        options.UsePlatformPostgres(database.PostgresConnectionString, ResponseStoreDbContext.HistorySchema);
        await using var context = new ResponseStoreDbContext(options.Options);
        var migrator = context.GetService<IMigrator>();
        await migrator.MigrateAsync("20261204183000_ContentSearch");

        var user = await database.AddNewUserAsync();
        Guid premiumRun = Guid.NewGuid(), oldRun = Guid.NewGuid();
        await database.ExecuteAsync("INSERT INTO response_store.run_origins (run_id, schedule_id, endpoint) VALUES ($1, 7, 'premium')", premiumRun);
        await database.ExecuteAsync(
            """
            INSERT INTO crew_responses (user_uid, response_data, run_id) VALUES
                ($1, '{"on":"premium"}', $2), ($1, '{"on":"default"}', $3), ($1, '{"posted":true}', NULL)
            """,
            user, premiumRun, oldRun);

        await migrator.MigrateAsync();

        Assert.Equal(
            """{"on": "premium"}=premium,{"on": "default"}=default,{"posted": true}=""",
            await database.ScalarAsync<string>(
                "SELECT string_agg(response_data::text || '=' || coalesce(endpoint, ''), ',' ORDER BY id) FROM crew_responses WHERE user_uid = $1", user));
        Assert.Equal(0, await database.ScalarAsync<long>(
            "SELECT count(*) FROM crew_responses WHERE previous_response_id IS NOT NULL OR changed IS NOT NULL"));

        await using var dataSource = Npgsql.NpgsqlDataSource.Create(database.PostgresConnectionString);
        var writer = new CrewResponseBatchWriter(dataSource);
        var outcomes = await writer.StoreAsync([new IncomingCrewResponse(Guid.NewGuid(), user, null, null, """{"on":"premium"}""", Endpoint: "premium")], CancellationToken.None);
        var stored = Assert.IsType<StoreOutcome.Stored>(Assert.Single(outcomes));
        Assert.False(stored.Changed);
        Assert.Equal(
            await database.ScalarAsync<int>("SELECT id FROM crew_responses WHERE run_id = $1", premiumRun),
            stored.PreviousResponseId);
    }
}
