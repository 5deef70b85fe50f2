using CrewPlatform.Scheduler.Persistence;
using Npgsql;
using NpgsqlTypes;

namespace CrewPlatform.Scheduler.Runs;

/// <summary>A user of a page as a run would record them: the digest of their input, and whether they are unchanged.</summary>
public sealed record ClassifiedUser(string Uid, byte[]? InputDigest, bool Unchanged);

/// <summary>
/// "Skip what did not change": whether a user's latest answer on a crew endpoint came from exactly the context and goal
/// they have now, and is younger than a run's <c>skipUnchanged.freshForMinutes</c>. The answer is not read (it is the
/// ResponseStore's); the Scheduler's own <c>run_users</c> keep, for every user sent, the digest of the input their
/// command carried and when their answer was stored. The fan-out's page statement (<see cref="RunProgress"/>), the
/// preview and a run-now of listed users all classify a page with <see cref="PageSql"/>.
/// </summary>
public sealed class UnchangedUsers(NpgsqlDataSource dataSource)
{
    /// <summary>The largest <c>freshForMinutes</c>: a year.</summary>
    public const int MaxFreshForMinutes = 525_600;

    /// <summary>
    /// SHA-256 over an encoding of a context and a goal that no two different pairs share: each is <c>n</c> when NULL,
    /// else <c>s</c>, its length in characters, <c>:</c> and the text itself, so NULL, empty and a value that runs into the
    /// next field all differ.
    /// </summary>
    public static string DigestSql(string context, string goal) =>
        $"sha256(convert_to(coalesce('s' || length({context}) || ':' || {context}, 'n') || coalesce('s' || length({goal}) || ':' || {goal}, 'n'), 'UTF8'))";

    /// <summary>
    /// The CTE <c>page</c>: every user of <c>@uids</c>/<c>@statuses</c>/<c>@contexts</c>/<c>@goals</c> with the digest of
    /// their input and <c>unchanged</c>: they are to be sent (status dispatched), the CTE <c>target</c> (columns
    /// <c>endpoint</c>, <c>fresh_for_minutes</c>) skips unchanged users, and their latest stored answer on that endpoint
    /// has the same digest and was stored less than <c>fresh_for_minutes</c> before now (the database's clock). The
    /// latest answer is one row of <c>IX_run_users_latest_answer</c> per user; a later answer from other input wins over
    /// an older identical one, and a user with no recorded answer is never unchanged.
    /// </summary>
    public static readonly string PageSql = $"""
        page AS (
            SELECT p.uid, p.status, d.digest,
                coalesce(latest.input_digest = d.digest AND latest.answer_stored_at > now() - make_interval(mins => target.fresh_for_minutes), false) AS unchanged
            FROM unnest(@uids, @statuses, @contexts, @goals) AS p(uid, status, context, goal)
            CROSS JOIN target
            CROSS JOIN LATERAL (SELECT CASE WHEN p.status = '{RunUserStatus.Dispatched}' THEN {DigestSql("p.context", "p.goal")} END AS digest) d
            LEFT JOIN LATERAL (
                SELECT ru.input_digest, ru.answer_stored_at FROM scheduler.run_users ru
                WHERE target.fresh_for_minutes IS NOT NULL AND p.status = '{RunUserStatus.Dispatched}'
                    AND ru.user_uid = p.uid AND ru.endpoint = target.endpoint AND ru.answer_stored_at IS NOT NULL
                ORDER BY ru.answer_stored_at DESC
                LIMIT 1
            ) latest ON true
        )
        """;

    /// <summary>The parameters <see cref="PageSql"/> reads, for a page of users as the run would see them.</summary>
    public static void AddPageParameters(NpgsqlCommand command, IReadOnlyList<HostUser> page)
    {
        command.Parameters.Add(new NpgsqlParameter<string[]>("uids", page.Select(u => u.Uid).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string[]>("statuses", page.Select(u => u.IsEligible ? RunUserStatus.Dispatched : RunUserStatus.Skipped).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string?[]>("contexts", page.Select(u => u.Context).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string?[]>("goals", page.Select(u => u.Goal).ToArray()) { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
    }

    /// <summary>
    /// The users of a page, in its order, with their digests and whether a run on <paramref name="endpoint"/> that skips
    /// users unchanged for <paramref name="freshForMinutes"/> (null: it skips none) would leave them uncalled. Reads only.
    /// </summary>
    public async Task<IReadOnlyList<ClassifiedUser>> ClassifyAsync(
        IReadOnlyList<HostUser> page, string endpoint, int? freshForMinutes, CancellationToken cancellationToken)
    {
        if (page.Count == 0)
        {
            return [];
        }

        // Raw SQL: the page statement's own classification (PageSql), with the target given as parameters.
        await using var command = dataSource.CreateCommand(
            $"""
            WITH target AS (SELECT @endpoint::text AS endpoint, @freshForMinutes::integer AS fresh_for_minutes),
            {PageSql}
            SELECT uid, digest, unchanged FROM page
            """);
        AddPageParameters(command, page);
        command.Parameters.Add(new NpgsqlParameter<string>("endpoint", endpoint) { NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<int?>("freshForMinutes", freshForMinutes) { NpgsqlDbType = NpgsqlDbType.Integer });
        var classified = new Dictionary<string, ClassifiedUser>(page.Count, StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var uid = reader.GetString(0);
            classified[uid] = new ClassifiedUser(uid, reader.IsDBNull(1) ? null : reader.GetFieldValue<byte[]>(1), reader.GetBoolean(2));
        }

        return page.Select(u => classified[u.Uid]).ToList();
    }
}
