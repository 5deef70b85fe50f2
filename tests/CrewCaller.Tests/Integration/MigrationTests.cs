using CrewPlatform.CrewCaller.Persistence;
using CrewPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace CrewPlatform.CrewCaller.Tests.Integration;

/// <summary>A private database with the users table only: no service has migrated it yet.</summary>
public sealed class FreshDatabase : RealInfrastructure;

/// <summary>
/// Replicas that start together on a fresh database (two CrewCaller instances of a new deployment) migrate it one after
/// the other, through the services' own migration step: each finds its work done or does it, none fails on a table or
/// column another replica has just added.
/// </summary>
public sealed class MigrationTests(FreshDatabase database) : IClassFixture<FreshDatabase>
{
    [Fact]
    public async Task Four_instances_migrating_a_fresh_database_at_once_all_start_and_apply_each_migration_once()
    {
        var schema = ServiceSchema.Of<CrewCallerDbContext>(CrewCallerDbContext.Schema);
        var migrations = AllMigrations();
        for (var round = 1; round <= 3; round++)
        {
            await database.ExecuteAsync($"DROP SCHEMA IF EXISTS {CrewCallerDbContext.Schema} CASCADE");

            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => schema.MigrateAsync(database.PostgresConnectionString))));

            Assert.Equal(
                migrations.Count,
                await database.ScalarAsync<long>($"SELECT count(*) FROM {CrewCallerDbContext.Schema}.__ef_migrations_history"));
        }
    }

    private static IReadOnlyCollection<string> AllMigrations()
    {
        using var services = new ServiceCollection()
            .AddDbContext<CrewCallerDbContext>(options => options.UseNpgsql("Host=localhost"))
            .BuildServiceProvider();
        using var scope = services.CreateScope();
        return [.. scope.ServiceProvider.GetRequiredService<CrewCallerDbContext>().Database.GetMigrations()];
    }
}
