using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace CrewPlatform.Webhooks.Delivery;

/// <summary>A delivery claimed for one attempt: its body, its target and secret.</summary>
public sealed record ClaimedDelivery(Guid Id, Guid SubscriptionId, int Attempt, string Payload, string Url, string Secret, DateTimeOffset CreatedAt)
{
    public string WebhookId => $"msg_{Id:N}";
}

/// <summary>What one POST came to.</summary>
public sealed record AttemptOutcome(DateTimeOffset StartedAt, long DurationMs, int? StatusCode, string? Error, string? ResponseBody)
{
    public bool Delivered => StatusCode is >= 200 and < 300;
}

/// <summary>
/// The deliveries table as a durable queue in PostgreSQL. Raw SQL: each step is one statement whose guard (the
/// unique key, SKIP LOCKED, the lease) is the point, and the clock is the database's, the same for every replica.
/// </summary>
public sealed partial class DeliveryQueue(NpgsqlDataSource dataSource, IOptions<WebhooksOptions> options, ILogger<DeliveryQueue> logger)
{
    private readonly WebhooksOptions settings = options.Value;

    /// <summary>
    /// One delivery per enabled subscription that wants an event's type (and, for an event of a segment, names no
    /// segment or that one), for a whole batch of events in one statement: a redelivered event meets the unique
    /// (subscription, event) key and adds nothing, so the dedup and the write are one transaction.
    /// <para>
    /// An event about one answer (<see cref="WebhookEvent{TData}.About"/>) reaches a subscription with a <c>jsonPath</c>
    /// only when the answer matches it, evaluated here by PostgreSQL (<c>answer @@ path</c>, silently: an answer the path
    /// errors on does not match); one that did not carry its answer reaches it anyway, marked not evaluated. A
    /// subscription with <c>includeAnswer</c> gets the payload with the answer in it. Each event's payloads are built
    /// once, and each subscription's is picked in the statement.
    /// </para>
    /// </summary>
    /// <returns>How many deliveries were added.</returns>
    public async Task<int> EnqueueAsync<TData>(IReadOnlyList<WebhookEvent<TData>> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return 0;
        }

        // The answers are read as jsonb once per event, and only while some subscription filters by one.
        await using var command = dataSource.CreateCommand(
            """
            WITH e AS MATERIALIZED (
                SELECT e.*, CASE WHEN e.answer IS NOT NULL
                                  AND EXISTS (SELECT 1 FROM webhooks.subscriptions f WHERE f.json_path IS NOT NULL AND f.disabled_at IS NULL)
                                 THEN webhooks.answer_json(e.answer) END AS answer_json
                FROM unnest(@eventIds, @eventTypes, @payloads, @segments, @aboutAnswer, @answers, @answerPayloads, @notEvaluatedPayloads)
                    AS e(event_id, event_type, payload, segment, about_answer, answer, answer_payload, not_evaluated_payload)
            )
            INSERT INTO webhooks.deliveries (id, subscription_id, event_id, event_type, payload, created_at, attempts, next_attempt_at)
            SELECT gen_random_uuid(), s.id, e.event_id, e.event_type,
                   CASE WHEN NOT e.about_answer THEN e.payload
                        WHEN e.answer IS NULL THEN CASE WHEN s.json_path IS NULL THEN e.payload ELSE e.not_evaluated_payload END
                        WHEN s.include_answer THEN e.answer_payload
                        ELSE e.payload END,
                   now(), 0, now()
            FROM e
            JOIN webhooks.subscriptions s
              ON s.disabled_at IS NULL AND e.event_type = ANY (s.event_types) AND (e.segment IS NULL OR s.segment IS NULL OR s.segment = e.segment)
             AND (s.json_path IS NULL OR NOT e.about_answer OR e.answer IS NULL OR webhooks.answer_matches(e.answer_json, s.json_path))
            ON CONFLICT (subscription_id, event_id) DO NOTHING
            """);
        command.Parameters.Add(new NpgsqlParameter<string[]>("eventIds", events.Select(e => e.Id).ToArray()));
        command.Parameters.Add(new NpgsqlParameter<string[]>("eventTypes", events.Select(e => e.Type).ToArray()));
        command.Parameters.Add(new NpgsqlParameter<string[]>("payloads", events.Select(e => Payload(e, e.Data)).ToArray()));
        command.Parameters.Add(Texts("segments", events.Select(e => e.Segment)));
        command.Parameters.Add(new NpgsqlParameter<bool[]>("aboutAnswer", events.Select(e => e.About is not null).ToArray()));
        command.Parameters.Add(Texts("answers", events.Select(e => e.About?.Answer)));
        command.Parameters.Add(Texts("answerPayloads", events.Select(e => e.About is { Answer: not null, WithAnswer: { } data } ? Payload(e, data) : null)));
        command.Parameters.Add(Texts("notEvaluatedPayloads", events.Select(e => e.About is { Answer: null, NotEvaluated: { } data } ? Payload(e, data) : null)));
        var added = await command.ExecuteNonQueryAsync(cancellationToken);
        if (added > 0)
        {
            LogEnqueued(logger, events.Count, string.Join(", ", events.Select(e => e.Type).Distinct(StringComparer.Ordinal)), added);
        }

        return added;
    }

    private static string Payload<TData>(WebhookEvent<TData> e, TData data) =>
        JsonSerializer.Serialize(new WebhookPayload<TData>(e.Type, e.OccurredAt, data), JsonSerializerOptions.Web);

    private static NpgsqlParameter Texts(string name, IEnumerable<string?> values) =>
        new(name, NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = values.ToArray() };

    /// <summary>
    /// The most overdue delivery of an enabled subscription, leased to this replica for <see cref="WebhooksOptions.Lease"/>.
    /// SKIP LOCKED keeps two replicas off the same row; the lease, committed with the claim, keeps them off it while it
    /// is being sent, and hands it back by itself if the sender dies.
    /// </summary>
    public async Task<ClaimedDelivery?> ClaimNextAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            UPDATE webhooks.deliveries d SET lease_until = now() + @lease, attempts = d.attempts + 1
            FROM webhooks.subscriptions s
            WHERE s.id = d.subscription_id AND d.id = (
                SELECT due.id FROM webhooks.deliveries due
                JOIN webhooks.subscriptions enabled ON enabled.id = due.subscription_id AND enabled.disabled_at IS NULL
                WHERE due.next_attempt_at <= now() AND (due.lease_until IS NULL OR due.lease_until < now())
                ORDER BY due.next_attempt_at
                LIMIT 1
                FOR UPDATE OF due SKIP LOCKED)
            RETURNING d.id, d.subscription_id, d.attempts, d.payload, s.url, s.secret, d.created_at
            """);
        command.Parameters.Add(new NpgsqlParameter<TimeSpan>("lease", settings.Lease));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new ClaimedDelivery(
            reader.GetGuid(0), reader.GetGuid(1), reader.GetInt32(2), reader.GetString(3), reader.GetString(4), reader.GetString(5),
            reader.GetFieldValue<DateTimeOffset>(6));
    }

    /// <summary>
    /// A send cut short by shutdown: the claim and its attempt are handed back for the next replica, at once. Should
    /// this fail too, the lease runs out instead.
    /// </summary>
    public async Task ReleaseAsync(ClaimedDelivery delivery)
    {
        await using var command = dataSource.CreateCommand(
            "UPDATE webhooks.deliveries SET lease_until = NULL, attempts = attempts - 1 WHERE id = @id AND attempts = @attempt");
        command.Parameters.Add(new NpgsqlParameter<Guid>("id", delivery.Id));
        command.Parameters.Add(new NpgsqlParameter<int>("attempt", delivery.Attempt));
        await command.ExecuteNonQueryAsync(CancellationToken.None);
    }

    /// <summary>
    /// Logs the attempt and settles the delivery in one transaction: delivered, or due again after the retry schedule's
    /// delay. A subscription whose attempts have all failed for <c>WEBHOOKS_DISABLE_AFTER_HOURS</c> is disabled, and says why.
    /// </summary>
    /// <returns>The reason the subscription was disabled by this attempt, if it was.</returns>
    public async Task<string?> RecordAsync(ClaimedDelivery delivery, AttemptOutcome outcome, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var batch = new NpgsqlBatch(connection, transaction);
        await using (batch)
        {
            var attempt = new NpgsqlBatchCommand(
                """
                INSERT INTO webhooks.delivery_attempts (delivery_id, attempt, started_at, status_code, error, duration_ms, response_body)
                VALUES (@id, @attempt, @startedAt, @statusCode, @error, @durationMs, @responseBody)
                """);
            attempt.Parameters.Add(new NpgsqlParameter<Guid>("id", delivery.Id));
            attempt.Parameters.Add(new NpgsqlParameter<int>("attempt", delivery.Attempt));
            attempt.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("startedAt", outcome.StartedAt));
            attempt.Parameters.Add(new NpgsqlParameter("statusCode", NpgsqlDbType.Integer) { Value = (object?)outcome.StatusCode ?? DBNull.Value });
            attempt.Parameters.Add(new NpgsqlParameter("error", NpgsqlDbType.Text) { Value = (object?)Truncate(outcome.Error, 1000) ?? DBNull.Value });
            attempt.Parameters.Add(new NpgsqlParameter<long>("durationMs", outcome.DurationMs));
            attempt.Parameters.Add(new NpgsqlParameter("responseBody", NpgsqlDbType.Text) { Value = (object?)outcome.ResponseBody ?? DBNull.Value });
            batch.BatchCommands.Add(attempt);

            if (outcome.Delivered)
            {
                batch.BatchCommands.Add(WithId(
                    "UPDATE webhooks.deliveries SET delivered_at = now(), next_attempt_at = NULL, lease_until = NULL WHERE id = @id",
                    delivery.Id));
                batch.BatchCommands.Add(WithId("UPDATE webhooks.subscriptions SET failing_since = NULL WHERE id = @id", delivery.SubscriptionId));
            }
            else
            {
                var retry = WithId("UPDATE webhooks.deliveries SET next_attempt_at = now() + @delay, lease_until = NULL WHERE id = @id", delivery.Id);
                retry.Parameters.Add(new NpgsqlParameter<TimeSpan>("delay", DeliveryRetrySchedule.After(delivery.Attempt, settings.RetryBase)));
                batch.BatchCommands.Add(retry);

                var failing = WithId(
                    """
                    UPDATE webhooks.subscriptions SET
                        failing_since = coalesce(failing_since, @startedAt),
                        disabled_at = CASE WHEN coalesce(failing_since, @startedAt) <= now() - @disableAfter THEN now() END,
                        disabled_reason = CASE WHEN coalesce(failing_since, @startedAt) <= now() - @disableAfter
                            THEN 'every delivery attempt failed since ' || to_char(coalesce(failing_since, @startedAt) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '; last error: ' || @lastError END
                    WHERE id = @id AND disabled_at IS NULL
                    RETURNING disabled_reason
                    """,
                    delivery.SubscriptionId);
                failing.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("startedAt", outcome.StartedAt));
                failing.Parameters.Add(new NpgsqlParameter<TimeSpan>("disableAfter", settings.DisableAfter));
                failing.Parameters.Add(new NpgsqlParameter<string>("lastError", Truncate(outcome.Error, 300) ?? $"HTTP {outcome.StatusCode}"));
                batch.BatchCommands.Add(failing);
            }

            string? disabledReason = null;
            await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
            {
                do
                {
                    while (await reader.ReadAsync(cancellationToken))
                    {
                        disabledReason = reader.IsDBNull(0) ? null : reader.GetString(0);
                    }
                }
                while (await reader.NextResultAsync(cancellationToken));
            }

            await transaction.CommitAsync(cancellationToken);
            return disabledReason;
        }
    }

    private static NpgsqlBatchCommand WithId(string sql, Guid id)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<Guid>("id", id));
        return command;
    }

    private static string? Truncate(string? text, int length) => text is { } t && t.Length > length ? t[..length] : text;

    [LoggerMessage(Level = LogLevel.Information, Message = "{Events} webhook event(s) ({EventType}): {Added} new deliveries")]
    private static partial void LogEnqueued(ILogger logger, int events, string eventType, int added);
}

/// <summary>
/// One platform event as webhooks see it. <paramref name="Id"/> names the event, not the message, so a redelivered
/// message adds no second delivery.
/// </summary>
public sealed record WebhookEvent<TData>(string Id, string Type, DateTimeOffset OccurredAt, TData Data, string? Segment)
{
    /// <summary>For an event about one answer (<c>crew-response.*</c>): what a subscription's jsonPath and includeAnswer make of it; null for any other.</summary>
    public AnswerVariants<TData>? About { get; init; }
}

/// <summary>
/// An event about one answer as subscriptions with a <c>jsonPath</c> or <c>includeAnswer</c> see it: the answer's JSON
/// text when the event carried it (what the path is evaluated on) with the data that carries it, or, when it did not,
/// the data marked for a filtered subscription as not evaluated.
/// </summary>
public sealed record AnswerVariants<TData>(string? Answer, TData? WithAnswer, TData? NotEvaluated);

/// <summary>The body of every webhook (the Standard Webhooks shape): the event type, when it happened, and its data.</summary>
public sealed record WebhookPayload<TData>(string Type, DateTimeOffset Timestamp, TData Data);
