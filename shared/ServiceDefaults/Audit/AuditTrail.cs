using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace CrewPlatform.ServiceDefaults.Audit;

/// <summary>
/// The operator actions the audit trail records, as <c>audit.entries.action</c> holds them: <c>&lt;what&gt;.&lt;verb&gt;</c>.
/// A dry run (a preview) changes nothing and is not recorded.
/// </summary>
public static class AuditActions
{
    public const string ScheduleStart = "schedule.start";
    public const string ScheduleStop = "schedule.stop";
    public const string ScheduleCreate = "schedule.create";
    public const string ScheduleUpdate = "schedule.update";
    public const string ScheduleDelete = "schedule.delete";
    public const string SchedulePause = "schedule.pause";
    public const string ScheduleResume = "schedule.resume";
    public const string RunStart = "run.start";
    public const string RunRetryFailed = "run.retry-failed";
    public const string RunCancel = "run.cancel";
    public const string WebhookCreate = "webhook.create";
    public const string WebhookDelete = "webhook.delete";
    public const string WebhookRotateSecret = "webhook.rotate-secret";
    public const string CrewResponseCreate = "crew-response.create";
    public const string CrewResponseDelete = "crew-response.delete";
    public const string SessionSignIn = "session.sign-in";
    public const string SessionSignOut = "session.sign-out";

    public static readonly IReadOnlyList<string> All =
    [
        ScheduleStart, ScheduleStop, ScheduleCreate, ScheduleUpdate, ScheduleDelete, SchedulePause, ScheduleResume,
        RunStart, RunRetryFailed, RunCancel, WebhookCreate, WebhookDelete, WebhookRotateSecret,
        CrewResponseCreate, CrewResponseDelete, SessionSignIn, SessionSignOut,
    ];
}

/// <summary>Who acted when no operator did: the platform itself. Key names cannot contain <c>:</c>, so no key is named so.</summary>
public static class AuditActors
{
    /// <summary>The Scheduler, e.g. resuming a schedule whose pause's <c>until</c> has come.</summary>
    public const string Scheduler = "system:scheduler";
}

/// <summary>What an action acted on, as <c>audit.entries.target</c> holds it: <c>&lt;kind&gt;:&lt;id&gt;</c>.</summary>
public static class AuditTargets
{
    public static string Schedule(int id) => $"schedule:{id}";

    public static string Run(Guid id) => $"run:{id}";

    public static string Webhook(Guid id) => $"webhook:{id}";

    public static string CrewResponse(long id) => $"crew-response:{id}";

    public const string Session = "session";
}

/// <summary>
/// Writes one row of the audit trail (<c>audit.entries</c>, deploy/postgres/audit.sql) per operator action, after the
/// action has happened and before its answer is sent: who (<see cref="CrewActor.Of"/>), from where
/// (<see cref="CrewActor.ClientAddressOf"/>, else the caller's own address), the service, the action, its target and
/// the request's fields that say what was asked (its body, credentials left out, or what the call site names; never a
/// secret, a key or a token).
/// <para>
/// The action has already happened, so a failed write neither undoes it nor fails its answer (a client that retried a
/// run-now would pay for a second run): it is retried twice, then logged at error level with everything the row would
/// have held and counted in <c>crew_audit_unrecorded_total</c>, an alert's signal. A client that hangs up does not skip
/// the write.
/// </para>
/// </summary>
public sealed partial class AuditTrail(NpgsqlDataSource dataSource, AuditTrail.Service service, AuditMetrics metrics, ILogger<AuditTrail> logger)
{
    /// <summary>The service whose rows these are (<c>audit.entries.service</c>).</summary>
    public sealed record Service(string Name);

    private const int Attempts = 3;

    private static readonly JsonSerializerOptions FieldsJson = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    // No RETURNING: a service role may insert rows, never read them back (the Scheduler's reading is its API's).
    private const string Insert = """
        INSERT INTO audit.entries (actor, client_address, service, action, target, fields)
        VALUES (@actor, @client_address, @service, @action, @target, @fields)
        """;

    /// <summary>
    /// Records <paramref name="action"/> on <paramref name="target"/> as asked by <paramref name="request"/>, with
    /// <paramref name="fields"/> (an object serialized camelCase, nulls left out), or else the JSON body the request's
    /// binding read (<see cref="AuditFields.Of"/>: validated, so only fields the request takes), or else none.
    /// </summary>
    public async Task RecordAsync(HttpRequest request, string action, string target, object? fields = null)
    {
        var actor = CrewActor.Of(request);
        var client = CrewActor.ClientAddressOf(request) ?? request.HttpContext.Connection.RemoteIpAddress?.ToString();
        var json = fields is null ? AuditFields.Of(request.HttpContext) : JsonSerializer.Serialize(fields, FieldsJson);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var command = dataSource.CreateCommand(Insert);
                command.Parameters.AddRange(Row(actor, client, action, target, json));
                await command.ExecuteNonQueryAsync(CancellationToken.None);
                return;
            }
            catch (NpgsqlException ex) when (attempt < Attempts)
            {
                LogRetrying(logger, ex, action, target, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), CancellationToken.None);
            }
            catch (NpgsqlException ex)
            {
                metrics.Unrecorded(action);
                LogUnrecorded(logger, ex, action, target, actor, client, json);
                return;
            }
        }
    }

    /// <summary>
    /// Records an action the service took by itself (<paramref name="actor"/>: one of <see cref="AuditActors"/>) on
    /// <paramref name="db"/>'s connection, in its current transaction when there is one, so that the row commits with
    /// the action or not at all.
    /// </summary>
    public Task RecordAsync(DbContext db, string actor, string action, string target, object? fields, CancellationToken cancellationToken) =>
        db.Database.ExecuteSqlRawAsync(
            Insert, Row(actor, client: null, action, target, JsonSerializer.Serialize(fields ?? new { }, FieldsJson)), cancellationToken);

    /// <summary>The parameters of <see cref="Insert"/>: one row of this service's.</summary>
    private NpgsqlParameter[] Row(string? actor, string? client, string action, string target, string fields) =>
    [
        new NpgsqlParameter<string?>("actor", actor),
        new NpgsqlParameter<string?>("client_address", client),
        new NpgsqlParameter<string>("service", service.Name),
        new NpgsqlParameter<string>("action", action),
        new NpgsqlParameter<string>("target", target),
        new NpgsqlParameter<string>("fields", NpgsqlDbType.Jsonb) { TypedValue = fields },
    ];

    [LoggerMessage(Level = LogLevel.Warning, Message = "Audit entry {Action} on {Target} not written (attempt {Attempt}); trying again")]
    private static partial void LogRetrying(ILogger logger, Exception exception, string action, string target, int attempt);

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit entry NOT RECORDED: {Action} on {Target} by {Actor} from {ClientAddress}, fields {Fields}")]
    private static partial void LogUnrecorded(ILogger logger, Exception exception, string action, string target, string? actor, string? clientAddress, string fields);
}

/// <summary>
/// A request body as the audit trail keeps it: the body as sent, but a field whose name says it holds a credential
/// (key, secret, token, password) is left out, an array of more than <see cref="MaxArrayItems"/> items becomes
/// <c>{"count": N}</c> and a string is cut at <see cref="MaxStringLength"/> characters, so a row stays small.
/// </summary>
public static class AuditFields
{
    public const int MaxArrayItems = 20;
    public const int MaxStringLength = 500;

    private static readonly string[] Credentials = ["key", "secret", "token", "password", "authorization"];

    public static string Of(HttpContext http)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            if (JsonRequestBody.Of(http) is { ValueKind: JsonValueKind.Object } body)
            {
                Write(writer, body);
            }
            else
            {
                writer.WriteStartObject();
                writer.WriteEndObject();
            }
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static bool IsCredential(string name) =>
        Credentials.Any(word => name.Contains(word, StringComparison.OrdinalIgnoreCase));

    private static void Write(Utf8JsonWriter writer, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in value.EnumerateObject().Where(p => !IsCredential(p.Name)))
                {
                    writer.WritePropertyName(property.Name);
                    Write(writer, property.Value);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array when value.GetArrayLength() > MaxArrayItems:
                writer.WriteStartObject();
                writer.WriteNumber("count", value.GetArrayLength());
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in value.EnumerateArray())
                {
                    Write(writer, item);
                }

                writer.WriteEndArray();
                break;
            case JsonValueKind.String when value.GetString() is { Length: > MaxStringLength } text:
                writer.WriteStringValue(text[..(char.IsHighSurrogate(text[MaxStringLength - 1]) ? MaxStringLength - 1 : MaxStringLength)]);
                break;
            default:
                value.WriteTo(writer);
                break;
        }
    }
}

/// <summary><c>crew_audit_unrecorded_total{action}</c>: actions done whose audit row could not be written.</summary>
public sealed class AuditMetrics
{
    private readonly Counter<long> unrecorded;

    public AuditMetrics(IMeterFactory meterFactory)
    {
        unrecorded = PlatformMeters.Create(meterFactory, "Audit").CreateCounter<long>(
            "crew_audit_unrecorded", description: "Operator actions done whose audit entry could not be written (the service's log holds each one)");
    }

    public void Unrecorded(string action) => unrecorded.Add(1, new KeyValuePair<string, object?>("action", action));
}

public static class AuditTrailRegistration
{
    /// <summary>The service's <see cref="AuditTrail"/>, writing as <paramref name="service"/>; needs <see cref="ServiceDefaultsExtensions.AddPostgres{TBuilder}"/>.</summary>
    public static TBuilder AddAuditTrail<TBuilder>(this TBuilder builder, string service) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddMetrics();
        builder.Services.TryAddSingleton(new AuditTrail.Service(service));
        builder.Services.TryAddSingleton<AuditMetrics>();
        builder.Services.TryAddSingleton<AuditTrail>();
        return builder;
    }
}
