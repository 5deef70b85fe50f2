using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.ServiceDefaults.Audit;
using Microsoft.AspNetCore.Http.Metadata;
using Npgsql;

namespace CrewPlatform.Scheduler.Apis;

/// <summary>One audit row: who did what to which target, when, from where, with the fields that said what was asked.</summary>
public sealed record AuditEntryView(
    long Id, DateTimeOffset At, string? Actor, string? ClientAddress, string Service, string Action, string Target, JsonElement Fields);

/// <summary>
/// <c>GET /api/audit</c>'s query: exact <c>actor</c>, <c>action</c> and <c>target</c>, a time window (<c>from</c>
/// inclusive; <c>to</c> inclusive, a bare date meaning its whole day), newest first, <c>limit</c> rows a page and
/// <c>after</c>, a previous page's <c>nextCursor</c>.
/// </summary>
public sealed record AuditQuery(AuditText? Actor, AuditAction? Action, AuditText? Target, DateBound? From, DateBound? To, PageLimit Limit, AuditCursor? After);

/// <summary>An exact text filter of the audit trail (<c>actor</c>, <c>target</c>): at most <see cref="CrewActor.MaxLength"/> characters.</summary>
public sealed record AuditText(string Value) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => QueryValue.Describe(parameter, builder, "string");

    public static ValueTask<AuditText?> BindAsync(HttpContext http, ParameterInfo parameter) =>
        ValueTask.FromResult(QueryValue.Single(http, parameter, out var name) switch
        {
            null => null,
            { Length: <= CrewActor.MaxLength } text => new AuditText(text),
            _ => throw new InvalidRequestException($"{name} must be at most {CrewActor.MaxLength} characters"),
        });
}

/// <summary><c>action</c>: one of <see cref="AuditActions.All"/>.</summary>
public sealed record AuditAction(string Value) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) =>
        QueryValue.Describe(parameter, builder, "string", description: "one of " + string.Join(", ", AuditActions.All));

    public static ValueTask<AuditAction?> BindAsync(HttpContext http, ParameterInfo parameter) =>
        ValueTask.FromResult(QueryValue.Single(http, parameter, out var name) switch
        {
            null => null,
            var text when AuditActions.All.Contains(text) => new AuditAction(text),
            _ => throw new InvalidRequestException($"{name} must be one of {string.Join(", ", AuditActions.All)}"),
        });
}

/// <summary><c>after</c>: a previous page's <c>nextCursor</c>, the id of its last (oldest) row.</summary>
public sealed record AuditCursor(long Id) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => QueryValue.Describe(parameter, builder, "string");

    public static ValueTask<AuditCursor?> BindAsync(HttpContext http, ParameterInfo parameter) =>
        ValueTask.FromResult(QueryValue.Single(http, parameter, out var name) switch
        {
            null => null,
            var text when long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id > 0 => new AuditCursor(id),
            _ => throw new InvalidRequestException($"{name} must be a nextCursor from a previous page"),
        });
}

/// <summary>
/// The audit trail (deploy/postgres/audit.sql), read: <c>GET /api/audit</c>, which the gateway lets only an admin
/// credential call. And the gateway's own actions, written: <c>POST /audit/session/sign-in</c> and <c>/sign-out</c>,
/// which the gateway calls for a dashboard session (it has no database of its own); not routed by the gateway, so
/// reachable from the gateway's network only, like every backend port.
/// </summary>
public static class AuditApi
{
    public const string SessionPath = "/audit/session";

    public static IEndpointRouteBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/audit", ListAsync).WithTags("Audit")
            .WithName("listAuditEntries")
            .WithSummary("Who did what, newest first: every operator action, filtered by actor, action, target and time (admin only)")
            .WithDescription("A full page carries `nextCursor`, passed back as `after`.")
            .ProducesEnvelope<List<AuditEntryView>>().ProducesErrors(StatusCodes.Status400BadRequest);
        app.MapPost(SessionPath + "/sign-in", (HttpRequest request, AuditTrail audit) => SessionAsync(request, audit, AuditActions.SessionSignIn))
            .ExcludeFromDescription();
        app.MapPost(SessionPath + "/sign-out", (HttpRequest request, AuditTrail audit) => SessionAsync(request, audit, AuditActions.SessionSignOut))
            .ExcludeFromDescription();
        return app;
    }

    private static async Task<IResult> SessionAsync(HttpRequest request, AuditTrail audit, string action)
    {
        await audit.RecordAsync(request, action, AuditTargets.Session);
        return Results.NoContent();
    }

    public static async Task<IResult> ListAsync([AsParameters] AuditQuery query, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        if (query.Limit.Value == 0)
        {
            return ApiResults.Ok(new List<AuditEntryView>(), count: 0);
        }

        var sql = new StringBuilder("SELECT id, at, actor, client_address, service, action, target, fields::text FROM audit.entries WHERE true");
        var parameters = new List<NpgsqlParameter>();
        void Where(string condition, NpgsqlParameter parameter)
        {
            sql.Append(" AND ").Append(condition);
            parameters.Add(parameter);
        }

        if (query.Actor is { } actor)
        {
            Where("actor = @actor", new NpgsqlParameter<string>("actor", actor.Value));
        }

        if (query.Action is { } action)
        {
            Where("action = @action", new NpgsqlParameter<string>("action", action.Value));
        }

        if (query.Target is { } target)
        {
            Where("target = @target", new NpgsqlParameter<string>("target", target.Value));
        }

        if (query.From is { } from)
        {
            Where("at >= @from", new NpgsqlParameter<DateTime>("from", from.Instant));
        }

        if (DateBound.AsEnd(query.To) is ({ } to, var exclusive))
        {
            Where(exclusive ? "at < @to" : "at <= @to", new NpgsqlParameter<DateTime>("to", to));
        }

        if (query.After is { } after)
        {
            Where("id < @after", new NpgsqlParameter<long>("after", after.Id));
        }

        sql.Append(" ORDER BY id DESC LIMIT @limit");
        parameters.Add(new NpgsqlParameter<int>("limit", query.Limit.Value));

        await using var command = dataSource.CreateCommand(sql.ToString());
        command.Parameters.AddRange(parameters.ToArray());
        var page = new List<AuditEntryView>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                using var fields = JsonDocument.Parse(reader.GetString(7));
                page.Add(new AuditEntryView(
                    reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.GetString(6),
                    fields.RootElement.Clone()));
            }
        }

        var next = page.Count == query.Limit.Value ? page[^1].Id.ToString(CultureInfo.InvariantCulture) : null;
        return ApiResults.Ok(page, count: page.Count, nextCursor: next);
    }
}
