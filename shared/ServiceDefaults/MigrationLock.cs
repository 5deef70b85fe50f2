using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// A PostgreSQL advisory lock (per database and context) held on a connection of its own while a service applies its
/// migrations, so two replicas starting at once on a fresh database migrate one after the other: the second finds the
/// migrations applied. EF's own lock on the history table comes too late for that (after both have read which
/// migrations were applied, one replica would add a column the other just added). Released on dispose, and by
/// PostgreSQL when the connection ends with the process.
/// </summary>
internal sealed class MigrationLock : IAsyncDisposable
{
    private static readonly TimeSpan RetryEvery = TimeSpan.FromMilliseconds(200);

    private readonly NpgsqlConnection connection;
    private readonly long key;

    private MigrationLock(NpgsqlConnection connection, long key)
    {
        this.connection = connection;
        this.key = key;
    }

    public static async Task<MigrationLock> TakeAsync(IServiceProvider services, DbContext db, CancellationToken cancellationToken)
    {
        var connection = services.GetService<NpgsqlDataSource>()?.CreateConnection()
            ?? new NpgsqlConnection(db.Database.GetConnectionString());
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using var keyOf = new NpgsqlCommand("SELECT hashtextextended(@name, 0)", connection);
            keyOf.Parameters.AddWithValue("name", "crewplatform migrations " + db.GetType().Name);
            var key = (long)(await keyOf.ExecuteScalarAsync(cancellationToken))!;
            // Tried again and again rather than waited for in one statement: a waiting statement holds a snapshot, and
            // a migration that builds an index CONCURRENTLY waits for every older snapshot to go, so the replica
            // migrating would wait for the one waiting for it.
            await using var take = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", connection);
            take.Parameters.AddWithValue("key", key);
            while (await take.ExecuteScalarAsync(cancellationToken) is not true)
            {
                await Task.Delay(RetryEvery, cancellationToken);
            }

            return new MigrationLock(connection, key);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
            release.Parameters.AddWithValue("key", key);
            await release.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
            // The connection is gone, and the lock with it.
        }
        finally
        {
            await connection.DisposeAsync();
        }
    }
}
