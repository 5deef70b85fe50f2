using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace CrewPlatform.Testing;

/// <summary>
/// Several replicas of a service starting together on a fresh database, each running the service's own migration step
/// at once: every one must finish, and each migration must be applied once.
/// </summary>
public static class MigrationRace
{
    public static async Task AssertReplicasMigrateOnceAsync<TContext>(RealInfrastructure database, string historySchema, int replicas = 4)
        where TContext : DbContext
    {
        var schema = ServiceSchema.Of<TContext>(historySchema);
        await Task.WhenAll(Enumerable.Range(0, replicas).Select(_ => Task.Run(() => schema.MigrateAsync(database.PostgresConnectionString))));

        using var services = new ServiceCollection()
            .AddDbContext<TContext>(options => options.UseNpgsql("Host=localhost"))
            .BuildServiceProvider();
        using var scope = services.CreateScope();
        var migrations = scope.ServiceProvider.GetRequiredService<TContext>().Database.GetMigrations().Count();
        Assert.Equal(migrations, await database.ScalarAsync<long>($"SELECT count(*) FROM {historySchema}.__ef_migrations_history"));
    }
}
