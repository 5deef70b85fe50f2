using CrewPlatform.CrewCaller.Persistence;
using CrewPlatform.Testing;

namespace CrewPlatform.CrewCaller.Tests.Integration;

/// <summary>A private database with the users table only: no service has migrated it yet.</summary>
public sealed class FreshDatabase : RealInfrastructure;

/// <summary>
/// Replicas that start together on a fresh database (two CrewCaller instances of a new deployment) migrate it one after
/// the other: none fails on a table or column another replica has just added.
/// </summary>
public sealed class MigrationTests(FreshDatabase database) : IClassFixture<FreshDatabase>
{
    [Fact]
    public Task Four_instances_migrating_a_fresh_database_at_once_all_start_and_apply_each_migration_once() =>
        MigrationRace.AssertReplicasMigrateOnceAsync<CrewCallerDbContext>(database, CrewCallerDbContext.Schema);
}
