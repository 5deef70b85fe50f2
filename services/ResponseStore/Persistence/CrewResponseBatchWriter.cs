using CrewPlatform.ServiceDefaults;
using Npgsql;

namespace CrewPlatform.ResponseStore.Persistence;

/// <summary>One crew answer to store for a (run, user).</summary>
public sealed record IncomingCrewResponse(
    Guid RunId, string UserUid, string? RequestContext, string? RequestGoal, string ResponseJson, int? ScheduleId = null, string? Endpoint = null, decimal? Cost = null);

/// <summary>What happened to one <see cref="IncomingCrewResponse"/>.</summary>
public abstract record StoreOutcome
{
    private StoreOutcome()
    {
    }

    /// <summary>The row exists: written now (<paramref name="Inserted"/>) or by an earlier delivery of the same answer.</summary>
    public sealed record Stored(int ResponseId, DateTimeOffset StoredAt, bool Inserted) : StoreOutcome;

    /// <summary>The user is not (or no longer) in <c>users</c>; nothing was written.</summary>
    public sealed record UserMissing : StoreOutcome;

    /// <summary>The answer cannot be stored as <c>jsonb</c> (not JSON, not an object or array, or a value PostgreSQL rejects).</summary>
    public sealed record Unstorable(string Reason) : StoreOutcome;
}

/// <summary>
/// Writes crew answers into <c>crew_responses</c> a batch at a time: one statement inserts every row whose user still
/// exists, ignores (run, user) pairs already stored, and answers the id of every row, new or old.
/// </summary>
public sealed class CrewResponseBatchWriter(NpgsqlDataSource dataSource)
{
    // The CTE's final SELECT sees the table as it was before the INSERT, so "e" finds rows from earlier deliveries
    // only, and "n" the rows this statement wrote.
    // Raw SQL: a bulk insert (unnest .. ON CONFLICT DO NOTHING) that reports new and existing rows in one round trip.
    private const string InsertSql = """
        WITH input AS (
            SELECT * FROM unnest(@run_ids, @user_uids, @contexts, @goals, @responses, @schedule_ids, @endpoints, @costs)
                AS t(run_id, user_uid, request_context, request_goal, response_data, schedule_id, endpoint, cost)
        ),
        inserted AS (
            INSERT INTO crew_responses (run_id, user_uid, request_context, request_goal, response_data, cost)
            SELECT i.run_id, i.user_uid, i.request_context, i.request_goal, i.response_data::jsonb, i.cost
            FROM input i
            WHERE EXISTS (SELECT 1 FROM users u WHERE u.uid = i.user_uid)
            ON CONFLICT (run_id, user_uid) DO NOTHING
            RETURNING id, run_id, user_uid, created_at
        ),
        origins AS (
            -- Answers of earlier versions carry neither: their runs stay without an origin (the default endpoint).
            INSERT INTO response_store.run_origins (run_id, schedule_id, endpoint)
            SELECT DISTINCT ON (i.run_id) i.run_id, i.schedule_id, coalesce(i.endpoint, 'default')
            FROM input i
            WHERE i.schedule_id IS NOT NULL OR i.endpoint IS NOT NULL
            ON CONFLICT (run_id) DO NOTHING
        )
        SELECT i.run_id, i.user_uid,
               COALESCE(n.id, e.id) AS id,
               COALESCE(n.created_at, e.created_at) AS created_at,
               n.id IS NOT NULL AS inserted
        FROM input i
        LEFT JOIN inserted n ON n.run_id = i.run_id AND n.user_uid = i.user_uid
        LEFT JOIN crew_responses e ON e.run_id = i.run_id AND e.user_uid = i.user_uid
        """;

    // Only needed when a concurrent writer committed the same (run, user) while our statement ran: ON CONFLICT
    // skipped the row, but our snapshot predates it.
    // Raw SQL: the same unnest key list as the insert, read with the same outcome reader.
    private const string LookupSql = """
        SELECT c.run_id, c.user_uid, c.id, c.created_at, false
        FROM crew_responses c
        JOIN unnest(@run_ids, @user_uids) AS t(run_id, user_uid) ON c.run_id = t.run_id AND c.user_uid = t.user_uid
        """;

    /// <summary>Stores the answers (which must be distinct per run and user) and returns one outcome per answer, in order.</summary>
    public async Task<IReadOnlyList<StoreOutcome>> StoreAsync(IReadOnlyList<IncomingCrewResponse> responses, CancellationToken cancellationToken)
    {
        var outcomes = new StoreOutcome?[responses.Count];
        var candidates = new List<int>(responses.Count);
        for (var i = 0; i < responses.Count; i++)
        {
            var response = responses[i];
            if (!StorableText.IsStorable(response.UserUid) || response.UserUid.Length > 255)
            {
                // Such a uid cannot be in users; keep it out of the statement, where it would fail the whole batch.
                outcomes[i] = new StoreOutcome.UserMissing();
            }
            else if (CheckJson(response.ResponseJson) is { } reason)
            {
                outcomes[i] = new StoreOutcome.Unstorable(reason);
            }
            else
            {
                candidates.Add(i);
            }
        }

        if (candidates.Count > 0)
        {
            try
            {
                await InsertAsync(responses, candidates, outcomes, cancellationToken);
            }
            catch (PostgresException ex) when (ex.SqlState.StartsWith("22", StringComparison.Ordinal))
            {
                // A data exception (e.g. \u0000 inside a JSON string, a number jsonb cannot hold) fails the whole
                // statement; store one at a time so only the offending answer is refused.
                foreach (var index in candidates)
                {
                    try
                    {
                        await InsertAsync(responses, [index], outcomes, cancellationToken);
                    }
                    catch (PostgresException single) when (single.SqlState.StartsWith("22", StringComparison.Ordinal))
                    {
                        outcomes[index] = new StoreOutcome.Unstorable($"crew answer rejected by PostgreSQL jsonb ({single.SqlState})");
                    }
                }
            }
        }

        return outcomes.Select(o => o ?? throw new InvalidOperationException("Every answer has an outcome")).ToList();
    }

    private async Task InsertAsync(IReadOnlyList<IncomingCrewResponse> responses, IReadOnlyList<int> indexes, StoreOutcome?[] outcomes, CancellationToken cancellationToken)
    {
        var byKey = new Dictionary<(Guid, string), int>(indexes.Count);
        foreach (var index in indexes)
        {
            byKey[(responses[index].RunId, responses[index].UserUid)] = index;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand(InsertSql, connection))
        {
            command.Parameters.AddWithValue("run_ids", indexes.Select(i => responses[i].RunId).ToArray());
            command.Parameters.AddWithValue("user_uids", indexes.Select(i => responses[i].UserUid).ToArray());
            command.Parameters.AddWithValue("contexts", indexes.Select(i => StorableText.Repair(responses[i].RequestContext)).ToArray());
            command.Parameters.AddWithValue("goals", indexes.Select(i => StorableText.Repair(responses[i].RequestGoal)).ToArray());
            command.Parameters.AddWithValue("responses", indexes.Select(i => responses[i].ResponseJson).ToArray());
            command.Parameters.Add(new NpgsqlParameter<int?[]>("schedule_ids", indexes.Select(i => responses[i].ScheduleId).ToArray()) { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Integer });
            command.Parameters.Add(new NpgsqlParameter<string?[]>("endpoints", indexes.Select(i => responses[i].Endpoint).ToArray()) { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter<decimal?[]>("costs", indexes.Select(i => responses[i].Cost).ToArray()) { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Numeric });
            await ReadOutcomesAsync(command, byKey, outcomes, cancellationToken);
        }

        var unresolved = indexes.Where(i => outcomes[i] is null).ToList();
        if (unresolved.Count == 0)
        {
            return;
        }

        await using (var lookup = new NpgsqlCommand(LookupSql, connection))
        {
            lookup.Parameters.AddWithValue("run_ids", unresolved.Select(i => responses[i].RunId).ToArray());
            lookup.Parameters.AddWithValue("user_uids", unresolved.Select(i => responses[i].UserUid).ToArray());
            await ReadOutcomesAsync(lookup, byKey, outcomes, cancellationToken);
        }

        // Still no row: the user was not in users when the statement ran.
        foreach (var index in unresolved.Where(i => outcomes[i] is null))
        {
            outcomes[index] = new StoreOutcome.UserMissing();
        }
    }

    private static async Task ReadOutcomesAsync(NpgsqlCommand command, Dictionary<(Guid, string), int> byKey, StoreOutcome?[] outcomes, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (await reader.IsDBNullAsync(2, cancellationToken))
            {
                continue;
            }

            var index = byKey[(reader.GetGuid(0), reader.GetString(1))];
            var createdAt = DateTime.SpecifyKind(reader.GetDateTime(3), DateTimeKind.Utc);
            outcomes[index] = new StoreOutcome.Stored(reader.GetInt32(2), new DateTimeOffset(createdAt), reader.GetBoolean(4));
        }
    }

    /// <summary>Null when the text is a JSON object or array; otherwise why it is not.</summary>
    public static string? CheckJson(string json) => JsonShape.Classify(json) switch
    {
        JsonRoot.ObjectOrArray => null,
        JsonRoot.Scalar => "crew answer is not a JSON object or array",
        _ => "crew answer is not valid JSON",
    };
}
