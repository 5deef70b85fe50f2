using Npgsql;

namespace CrewPlatform.Scheduler.Persistence;

/// <summary>A user as the host application's <c>users</c> table holds it.</summary>
public sealed record HostUser(string Uid, string? Context, string? Goal)
{
    /// <summary>The original rule: a user is skipped only when context and goal are both empty.</summary>
    public bool IsEligible => !string.IsNullOrWhiteSpace(Context) || !string.IsNullOrWhiteSpace(Goal);
}

/// <summary>
/// Reads the host application's <c>users</c> table (not ours, so no EF model and no migration touches it).
/// Keyset paging on the primary key: every page costs one index range scan, however deep into the table.
/// </summary>
public sealed class HostUsers(NpgsqlDataSource dataSource)
{
    public async Task<IReadOnlyList<HostUser>> ReadPageAsync(string? afterUid, int pageSize, CancellationToken cancellationToken)
    {
        // Two statements rather than "@after IS NULL OR uid > @after", which can keep the planner off the primary key.
        // Raw SQL: users belongs to the host application and has no EF model here.
        var sql = afterUid is null
            ? "SELECT uid, context, goal FROM public.users ORDER BY uid LIMIT @pageSize"
            : "SELECT uid, context, goal FROM public.users WHERE uid > @after ORDER BY uid LIMIT @pageSize";
        await using var command = dataSource.CreateCommand(sql);
        if (afterUid is not null)
        {
            command.Parameters.Add(new NpgsqlParameter<string>("after", afterUid) { DataTypeName = "text" });
        }

        command.Parameters.Add(new NpgsqlParameter<int>("pageSize", pageSize));
        return await ReadAsync(command, pageSize, cancellationToken);
    }

    /// <summary>The users of these uids as the table holds them now; a uid no longer in the table is simply absent.</summary>
    public async Task<IReadOnlyDictionary<string, HostUser>> ReadByUidsAsync(IReadOnlyCollection<string> uids, CancellationToken cancellationToken)
    {
        // Raw SQL: users belongs to the host application and has no EF model here.
        await using var command = dataSource.CreateCommand("SELECT uid, context, goal FROM public.users WHERE uid = ANY(@uids)");
        command.Parameters.Add(new NpgsqlParameter<string[]>("uids", uids.ToArray()) { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text });
        var users = await ReadAsync(command, uids.Count, cancellationToken);
        return users.ToDictionary(u => u.Uid, StringComparer.Ordinal);
    }

    private static async Task<IReadOnlyList<HostUser>> ReadAsync(NpgsqlCommand command, int expected, CancellationToken cancellationToken)
    {
        var users = new List<HostUser>(expected);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            users.Add(new HostUser(
                reader.GetString(0),
                reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetString(2)));
        }

        return users;
    }
}
