using CrewPlatform.Scheduler.Persistence;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace CrewPlatform.Scheduler.Persistence;

/// <summary>A user as the host application's <c>users</c> table holds it.</summary>
public sealed record HostUser(string Uid, string? Context, string? Goal)
{
    /// <summary>The original rule: a user is skipped only when context and goal are both empty.</summary>
    public bool IsEligible => !string.IsNullOrWhiteSpace(Context) || !string.IsNullOrWhiteSpace(Goal);
}

/// <summary>
/// Reads the host application's <c>users</c> table (not ours, so no EF model and no migration touches it).
/// Keyset paging on the primary key: every page costs one index range scan, however deep into the table. A segment
/// adds its configured conditions; its column names were checked against the table at startup and are quoted, its
/// values are parameters.
/// </summary>
public sealed partial class HostUsers(NpgsqlDataSource dataSource, IOptions<SchedulerOptions> options, ILogger<HostUsers> logger)
{
    private readonly IReadOnlyDictionary<string, SegmentDefinition> segments =
        options.Value.Segments ?? new Dictionary<string, SegmentDefinition>();

    /// <summary>Whether a schedule or a run may name this segment.</summary>
    public bool IsKnownSegment(string? segment) => segment is null or SegmentDefinition.All || segments.ContainsKey(segment);

    /// <summary>The segment names a caller may use, for error messages.</summary>
    public IEnumerable<string> SegmentNames() => segments.Keys.Prepend(SegmentDefinition.All);

    public async Task<IReadOnlyList<HostUser>> ReadPageAsync(string? afterUid, int pageSize, CancellationToken cancellationToken, string? segment = null)
    {
        await using var command = dataSource.CreateCommand();
        var conditions = SegmentConditions(segment, command);

        // Raw SQL: users belongs to the host application and has no EF model here.
        // A separate condition rather than "@after IS NULL OR uid > @after", which can keep the planner off the primary key.
        if (afterUid is not null)
        {
            conditions.Add("uid > @after");
            command.Parameters.Add(new NpgsqlParameter<string>("after", afterUid) { DataTypeName = "text" });
        }

        var where = conditions.Count == 0 ? "" : "WHERE " + string.Join(" AND ", conditions);
        command.CommandText = $"SELECT uid, context, goal FROM public.users {where} ORDER BY uid LIMIT @pageSize";
        command.Parameters.Add(new NpgsqlParameter<int>("pageSize", pageSize));
        return await ReadAsync(command, pageSize, cancellationToken);
    }

    /// <summary>The users of these uids as the table holds them now; a uid no longer in the table is simply absent.</summary>
    public async Task<IReadOnlyDictionary<string, HostUser>> ReadByUidsAsync(IReadOnlyCollection<string> uids, CancellationToken cancellationToken)
    {
        // Raw SQL: users belongs to the host application and has no EF model here.
        await using var command = dataSource.CreateCommand("SELECT uid, context, goal FROM public.users WHERE uid = ANY(@uids)");
        command.Parameters.Add(new NpgsqlParameter<string[]>("uids", uids.ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        var users = await ReadAsync(command, uids.Count, cancellationToken);
        return users.ToDictionary(u => u.Uid, StringComparer.Ordinal);
    }

    /// <summary>
    /// Checks every configured segment's column against the real <c>users</c> table; throws naming each missing
    /// column, so a typo stops the service at startup instead of failing every run.
    /// </summary>
    public async Task CheckSegmentColumnsAsync(CancellationToken cancellationToken)
    {
        var wanted = segments.Where(s => s.Value.Column is not null).ToList();
        if (wanted.Count == 0)
        {
            return;
        }

        await using var command = dataSource.CreateCommand(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users'");
        var columns = new HashSet<string>(StringComparer.Ordinal);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                columns.Add(reader.GetString(0));
            }
        }

        var missing = wanted.Where(s => !columns.Contains(s.Value.Column!))
            .Select(s => $"CREW_SEGMENTS__{s.Key}__Column: the users table has no column '{s.Value.Column}'")
            .ToList();
        if (missing.Count > 0)
        {
            throw new InvalidOperationException(string.Join("; ", missing));
        }

        LogSegmentsChecked(logger, wanted.Count);
    }

    private List<string> SegmentConditions(string? segment, NpgsqlCommand command)
    {
        if (segment is null or SegmentDefinition.All)
        {
            return [];
        }

        if (!segments.TryGetValue(segment, out var definition))
        {
            throw new InvalidOperationException($"Unknown segment '{segment}': it is not in CREW_SEGMENTS");
        }

        var conditions = new List<string>();
        if (definition.Column is { } column)
        {
            var quoted = $"\"{column}\"";
            if (definition.IsTrue)
            {
                conditions.Add($"{quoted} IS TRUE");
            }
            else if (definition.EqualTo is { } value)
            {
                conditions.Add($"{quoted}::text = @segmentValue");
                command.Parameters.Add(new NpgsqlParameter<string>("segmentValue", value) { DataTypeName = "text" });
            }
            else
            {
                conditions.Add($"{quoted}::text = ANY(@segmentValues)");
                command.Parameters.Add(new NpgsqlParameter<string[]>("segmentValues", definition.InValues().ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            }
        }

        if (!string.IsNullOrEmpty(definition.UidPrefix))
        {
            conditions.Add("starts_with(uid, @uidPrefix)");
            command.Parameters.Add(new NpgsqlParameter<string>("uidPrefix", definition.UidPrefix) { DataTypeName = "text" });
        }

        return conditions;
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

    [LoggerMessage(Level = LogLevel.Information, Message = "{Segments} configured segments checked against the users table")]
    private static partial void LogSegmentsChecked(ILogger logger, int segments);
}

/// <summary>At startup: a segment naming a column the users table lacks stops the service with that column's name.</summary>
public sealed class SegmentColumnsCheck(HostUsers users) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => users.CheckSegmentColumnsAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
