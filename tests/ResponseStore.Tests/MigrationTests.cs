using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.Testing;

namespace CrewPlatform.ResponseStore.Tests;

/// <summary>A private database with the users table only: no service has migrated it yet.</summary>
public sealed class FreshDatabase : RealInfrastructure;

/// <summary>
/// Replicas that start together on a fresh database migrate it one after the other, the indexes built concurrently
/// outside a transaction included: none fails, and none waits for ever on another waiting for it.
/// </summary>
public sealed class MigrationTests(FreshDatabase database) : IClassFixture<FreshDatabase>
{
    [Fact]
    public async Task Four_instances_migrating_a_fresh_database_at_once_all_start_and_apply_each_migration_once()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await MigrationRace.AssertReplicasMigrateOnceAsync<ResponseStoreDbContext>(database, ResponseStoreDbContext.HistorySchema)
            .WaitAsync(timeout.Token);
    }
}
