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

    /// <summary>
    /// The row exists: written now (<paramref name="Inserted"/>) or by an earlier delivery of the same answer, with what
    /// it was compared with when written: the endpoint, the previous answer's id and whether it differs (null for the
    /// first), the previous answer's text when it differs (<paramref name="PreviousAnswer"/>, for the change summary),
    /// and the stored answer's text when it is at most <see cref="Contracts.CrewResponseStored.AnswerInlineLimitBytes"/>
    /// bytes of UTF-8 (its size in <paramref name="AnswerBytes"/>).
    /// </summary>
    public sealed record Stored(
        int ResponseId, DateTimeOffset StoredAt, bool Inserted, string? Endpoint = null, int? PreviousResponseId = null, bool? Changed = null,
        string? PreviousAnswer = null, string? Answer = null, int AnswerBytes = 0) : StoreOutcome;

    /// <summary>The user is not (or no longer) in <c>users</c>; nothing was written.</summary>
    public sealed record UserMissing : StoreOutcome;

    /// <summary>The answer cannot be stored as <c>jsonb</c> (not JSON, not an object or array, or a value PostgreSQL rejects).</summary>
    public sealed record Unstorable(string Reason) : StoreOutcome;
}

/// <summary>
/// Writes crew answers into <c>crew_responses</c> a batch at a time: one statement inserts every row whose user still
/// exists, each with the user's previous answer on the same endpoint and whether it differs from it, ignores (run, user)
/// pairs already stored, and answers the id of every row, new or old, with what it was compared with.
/// </summary>
public sealed class CrewResponseBatchWriter(NpgsqlDataSource dataSource)
{
    // The CTE's final SELECT sees the table as it was before the INSERT, so "e" finds rows from earlier deliveries
    // only, and "n" the rows this statement wrote; "p" is the previous answer either names (read only when it differs,
    // for the change summary), "a" the stored answer's text (carried in the event when small enough).
    // Each new row looks up the user's latest answer on its endpoint (idx_crew_responses_user_uid_endpoint_created_at)
    // and compares it with jsonb equality. Two answers of one user on one endpoint stored at the same moment (two runs
    // at once, or in one batch) both see the answer before them, not each other.
    // Raw SQL: a bulk insert (unnest .. ON CONFLICT DO NOTHING) that reports new and existing rows in one round trip.
    private const string InsertSql = """
        WITH input AS (
            SELECT t.*, coalesce(t.endpoint, 'default') AS answered_by
            FROM unnest(@run_ids, @user_uids, @contexts, @goals, @responses, @schedule_ids, @endpoints, @costs)
                AS t(run_id, user_uid, request_context, request_goal, response_data, schedule_id, endpoint, cost)
        ),
        inserted AS (
            INSERT INTO crew_responses (run_id, user_uid, request_context, request_goal, response_data, cost, endpoint, previous_response_id, changed)
            SELECT i.run_id, i.user_uid, i.request_context, i.request_goal, i.response_data::jsonb, i.cost, i.answered_by,
                   prev.id, prev.response_data <> i.response_data::jsonb
            FROM input i
            LEFT JOIN LATERAL (
                SELECT c.id, c.response_data FROM crew_responses c
                WHERE c.user_uid = i.user_uid AND c.endpoint = i.answered_by AND c.created_at IS NOT NULL
                ORDER BY c.created_at DESC, c.id DESC
                LIMIT 1
            ) prev ON true
            WHERE EXISTS (SELECT 1 FROM users u WHERE u.uid = i.user_uid)
            ON CONFLICT (run_id, user_uid) DO NOTHING
            RETURNING id, run_id, user_uid, created_at, endpoint, previous_response_id, changed, response_data
        ),
        origins AS (
            -- Answers of earlier versions carry neither: their runs stay without an origin (the default endpoint).
            INSERT INTO response_store.run_origins (run_id, schedule_id, endpoint)
            SELECT DISTINCT ON (i.run_id) i.run_id, i.schedule_id, i.answered_by
            FROM input i
            WHERE i.schedule_id IS NOT NULL OR i.endpoint IS NOT NULL
            ON CONFLICT (run_id) DO NOTHING
        )
        SELECT i.run_id, i.user_uid,
               COALESCE(n.id, e.id) AS id,
               COALESCE(n.created_at, e.created_at) AS created_at,
               n.id IS NOT NULL AS inserted,
               COALESCE(n.endpoint, e.endpoint) AS endpoint,
               COALESCE(n.previous_response_id, e.previous_response_id) AS previous_response_id,
               COALESCE(n.changed, e.changed) AS changed,
               p.response_data::text AS previous_answer,
               octet_length(a.answer) AS answer_bytes,
               CASE WHEN octet_length(a.answer) <= @inline_limit THEN a.answer END AS answer
        FROM input i
        LEFT JOIN inserted n ON n.run_id = i.run_id AND n.user_uid = i.user_uid
        LEFT JOIN crew_responses e ON e.run_id = i.run_id AND e.user_uid = i.user_uid
        LEFT JOIN crew_responses p ON p.id = COALESCE(n.previous_response_id, e.previous_response_id) AND COALESCE(n.changed, e.changed)
        LEFT JOIN LATERAL (SELECT COALESCE(n.response_data, e.response_data)::text AS answer) a ON true
        """;

    // Only needed when a concurrent writer committed the same (run, user) while our statement ran: ON CONFLICT
    // skipped the row, but our snapshot predates it.
    // Raw SQL: the same unnest key list as the insert, read with the same outcome reader.
    private const string LookupSql = """
        SELECT c.run_id, c.user_uid, c.id, c.created_at, false, c.endpoint, c.previous_response_id, c.changed,
               p.response_data::text, octet_length(a.answer), CASE WHEN octet_length(a.answer) <= @inline_limit THEN a.answer END
        FROM crew_responses c
        JOIN unnest(@run_ids, @user_uids) AS t(run_id, user_uid) ON c.run_id = t.run_id AND c.user_uid = t.user_uid
        LEFT JOIN crew_responses p ON p.id = c.previous_response_id AND c.changed
        LEFT JOIN LATERAL (SELECT c.response_data::text AS answer) a ON true
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
            command.Parameters.AddWithValue("inline_limit", Contracts.CrewResponseStored.AnswerInlineLimitBytes);
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
            lookup.Parameters.AddWithValue("inline_limit", Contracts.CrewResponseStored.AnswerInlineLimitBytes);
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
            outcomes[index] = new StoreOutcome.Stored(
                reader.GetInt32(2), new DateTimeOffset(createdAt), reader.GetBoolean(4),
                Endpoint: await reader.IsDBNullAsync(5, cancellationToken) ? null : reader.GetString(5),
                PreviousResponseId: await reader.IsDBNullAsync(6, cancellationToken) ? null : reader.GetInt32(6),
                Changed: await reader.IsDBNullAsync(7, cancellationToken) ? null : reader.GetBoolean(7),
                PreviousAnswer: await reader.IsDBNullAsync(8, cancellationToken) ? null : reader.GetString(8),
                Answer: await reader.IsDBNullAsync(10, cancellationToken) ? null : reader.GetString(10),
                AnswerBytes: reader.GetInt32(9));
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
