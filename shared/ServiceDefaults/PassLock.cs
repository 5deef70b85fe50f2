using Npgsql;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// A background pass that one replica at a time runs: a transaction-scoped PostgreSQL advisory lock on a connection of
/// its own, so a replica that dies mid-pass releases it with its connection, and a replica that does not get it skips
/// the pass. The transaction holds nothing but the lock and is rolled back on dispose.
/// </summary>
public sealed class PassLock : IAsyncDisposable
{
    private readonly NpgsqlConnection connection;
    private readonly NpgsqlTransaction transaction;

    private PassLock(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        this.connection = connection;
        this.transaction = transaction;
    }

    /// <summary>The lock when this replica got it; null when another replica holds it.</summary>
    public static async Task<PassLock?> TryTakeAsync(NpgsqlDataSource dataSource, long key, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken);
            // Raw SQL: an advisory lock, which EF has no API for.
            await using (var tryLock = new NpgsqlCommand("SELECT pg_try_advisory_xact_lock(@key)", connection, transaction))
            {
                tryLock.Parameters.Add(new NpgsqlParameter<long>("key", key));
                if (await tryLock.ExecuteScalarAsync(cancellationToken) is true)
                {
                    return new PassLock(connection, transaction);
                }
            }

            await transaction.DisposeAsync();
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }

        await connection.DisposeAsync();
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        await transaction.DisposeAsync();
        await connection.DisposeAsync();
    }
}
