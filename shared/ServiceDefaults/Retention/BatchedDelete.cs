using Npgsql;

namespace CrewPlatform.ServiceDefaults.Retention;

/// <summary>
/// A retention delete in batches: one statement that deletes at most <c>@batch</c> rows, run again until it deletes
/// fewer. Each statement is its own short transaction (autocommit), so the row locks of a batch are held only while it
/// runs, and writers of new rows never wait for a pass.
/// </summary>
public static class BatchedDelete
{
    /// <summary>Runs <paramref name="sql"/> (which reads <c>@batch</c> and what <paramref name="bind"/> adds) until a batch falls short.</summary>
    /// <returns>How many rows the batches deleted.</returns>
    public static async Task<long> UntilDoneAsync(
        NpgsqlDataSource dataSource, string sql, int batch, Action<NpgsqlParameterCollection> bind, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        long deleted = 0;
        while (true)
        {
            await using var delete = dataSource.CreateCommand(sql);
            bind(delete.Parameters);
            delete.Parameters.Add(new NpgsqlParameter<int>("batch", batch));
            var rows = await delete.ExecuteNonQueryAsync(cancellationToken);
            deleted += rows;
            if (rows < batch)
            {
                return deleted;
            }
        }
    }
}
