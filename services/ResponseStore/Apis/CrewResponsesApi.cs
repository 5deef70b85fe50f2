using System.Globalization;
using System.Reflection;
using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.ServiceDefaults.Audit;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Npgsql;

namespace CrewPlatform.ResponseStore.Apis;

/// <summary>
/// <c>/api/crew-responses</c>, wire-compatible with the host application's route handlers. Query strings, ids and
/// bodies bind to types (<see cref="ListQuery"/>, <see cref="ResponseId"/>, <see cref="NewCrewResponse"/>) that refuse
/// bad input with the contract's envelope and a precise message, so the handlers see only valid values.
/// </summary>
public static class CrewResponsesApi
{
    public const string UserDoesNotExist = "User does not exist";
    public const string InvalidId = "Invalid ID";
    public const string NotFound = "Crew response not found";
    public const string Deleted = "Crew response deleted successfully";

    public static IEndpointRouteBuilder MapCrewResponsesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/crew-responses").WithTags("CrewResponses");
        api.MapGet("/", ListAsync).WithName("listCrewResponses")
            .WithSummary("Crew responses, newest first, filtered by user, run, creation time, content and change")
            .WithDescription("`count` is the page's size; `includeTotal=true` adds `total`; a full page carries `nextCursor`, passed back as `after`. "
                + "`jsonPath` and `q` search the answers' content; a search runs under a statement timeout (`CREW_RESPONSES_SEARCH_TIMEOUT_MS`) "
                + "and answers 422 when it runs out: narrow it with `userUid`, `runId`, `startDate` or `endDate`. "
                + "`changed=true` keeps the answers that differ from the user's previous one on the same endpoint, `changed=false` those equal to it; "
                + "a user's first answer is in neither.")
            .ProducesEnvelope<List<CrewResponseItem>>().ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status422UnprocessableEntity);
        api.MapPost("/", CreateAsync).WithName("createCrewResponse").WithSummary("Store a crew response")
            .Accepts<NewCrewResponse>("application/json")
            .ProducesEnvelope<CrewResponseItem>(StatusCodes.Status201Created)
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status422UnprocessableEntity);
        api.MapGet("/{id}", GetAsync).WithName("getCrewResponse").WithSummary("One crew response")
            .ProducesEnvelope<CrewResponseItem>().ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        api.MapGet("/{id}/changes", ChangesAsync).WithName("getCrewResponseChanges")
            .WithSummary("What changed since the user's previous answer on the same endpoint")
            .WithDescription("`previousId` is the user's latest answer on the same crew endpoint when this one was stored (answers posted "
                + "through this API compare with the user's previous posted answer); `changed` is null for the first answer. "
                + "`changes` lists the differences as RFC 6901 pointers with the previous (`from`) and new (`value`) values.")
            .ProducesEnvelope<AnswerChangesItem>().ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        api.MapDelete("/{id}", DeleteAsync).WithName("deleteCrewResponse").WithSummary("Delete one crew response")
            .ProducesEnvelope<object>().ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        return app;
    }

    private static async Task<IResult> ListAsync(
        [AsParameters] ListQuery query, [AsParameters] RunOriginFilter origin, [AsParameters] ContentSearch search,
        ResponseStoreDbContext db, IOptions<ResponseStoreOptions> options, CancellationToken cancellationToken)
    {
        if (query.StartsAfterItEnds)
        {
            return ApiResults.BadRequest(ListQuery.StartAfterEnd);
        }

        var rows = origin.Apply(query.Filter(search.Rows(db.CrewResponses).AsNoTracking()), db.RunOrigins);
        if (!search.IsSearch)
        {
            return await PageAsync(query, rows, cancellationToken);
        }

        // A search may read many rows (a path the index cannot narrow, a common word): its statements run under a
        // timeout of their own, local to this transaction, so the connection goes back to the pool as it was.
        var timeoutMs = options.Value.SearchTimeoutMs;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync(
            $"SELECT set_config('statement_timeout', {timeoutMs.ToString(CultureInfo.InvariantCulture)}, true)", cancellationToken);
        try
        {
            var result = await PageAsync(query, rows, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return result;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && FindPostgres(ex) is { } pg)
        {
            if (pg.SqlState == PostgresErrorCodes.QueryCanceled)
            {
                return ApiResults.Error(StatusCodes.Status422UnprocessableEntity, SearchTimedOut(timeoutMs));
            }

            if (search.JsonPath is not null && pg.SqlState.StartsWith("22", StringComparison.Ordinal))
            {
                // What the path met only in an answer (PostgreSQL's @@ passes over most such errors, not all of them).
                return ApiResults.BadRequest($"jsonPath could not be evaluated: {pg.MessageText}");
            }

            throw;
        }
    }

    public static string SearchTimedOut(int timeoutMs) =>
        $"the search ran longer than {timeoutMs} ms; narrow it with userUid, runId, startDate or endDate";

    private static async Task<IResult> PageAsync(ListQuery query, IQueryable<CrewResponse> rows, CancellationToken cancellationToken)
    {
        long? total = query.IncludeTotal.Value ? await rows.LongCountAsync(cancellationToken) : null;
        var page = await query.Page(rows).ToListAsync(cancellationToken);

        return ApiResults.Ok(
            page.Select(CrewResponseItem.From).ToList(), count: page.Count, total: total, nextCursor: query.NextCursor(page));
    }

    private static PostgresException? FindPostgres(Exception? exception) => exception switch
    {
        null => null,
        PostgresException postgres => postgres,
        _ => FindPostgres(exception.InnerException),
    };

    private static async Task<IResult> CreateAsync(
        NewCrewResponse body, ResponseStoreDbContext db, AuditTrail audit, HttpRequest request, CancellationToken cancellationToken)
    {
        // Asked first so that an unknown user, a client error, does not surface as a failed INSERT in the error logs;
        // the foreign key still decides when the user is deleted in between. Raw SQL: users belongs to the host
        // application and is not mapped in this context.
        var userExists = await db.Database
            .SqlQuery<bool>($"SELECT EXISTS (SELECT 1 FROM users WHERE uid = {body.UserUid}) AS \"Value\"")
            .SingleAsync(cancellationToken);
        if (!userExists)
        {
            return ApiResults.Error(StatusCodes.Status422UnprocessableEntity, UserDoesNotExist);
        }

        CrewResponse row;
        try
        {
            row = (await InsertPostedAsync(db, body, cancellationToken)).Single();
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            return ApiResults.Error(StatusCodes.Status422UnprocessableEntity, UserDoesNotExist);
        }
        catch (PostgresException ex) when (ex.SqlState.StartsWith("22", StringComparison.Ordinal))
        {
            // What the checks in NewCrewResponse do not catch, e.g. a number too large for jsonb's numeric.
            return ApiResults.BadRequest(NewCrewResponse.UnstorableData);
        }

        // The answer itself is in the row just stored; the audit trail says whose it is.
        await audit.RecordAsync(request, AuditActions.CrewResponseCreate, AuditTargets.CrewResponse(row.Id), new { body.UserUid, body.Cost });
        return ApiResults.Created($"/api/crew-responses/{row.Id}", CrewResponseItem.From(row));
    }

    /// <summary>
    /// Inserts a posted answer with the user's previous posted answer (posted answers have no endpoint: they form a
    /// series of their own, apart from every crew endpoint's) and whether it differs. Raw SQL: the insert reads the
    /// previous answer in the same statement, as the batch writer does.
    /// </summary>
    private static Task<List<CrewResponse>> InsertPostedAsync(ResponseStoreDbContext db, NewCrewResponse body, CancellationToken cancellationToken) =>
        db.CrewResponses.FromSql($"""
            INSERT INTO crew_responses (user_uid, request_context, request_goal, response_data, cost, previous_response_id, changed)
            SELECT {body.UserUid}::text, {body.RequestContext}::text, {body.RequestGoal}::text, d.data, {body.Cost}::numeric, prev.id, prev.response_data <> d.data
            FROM (SELECT {body.ResponseData}::text::jsonb AS data) d
            LEFT JOIN LATERAL (
                SELECT c.id, c.response_data FROM crew_responses c
                WHERE c.user_uid = {body.UserUid}::text AND c.endpoint IS NULL AND c.created_at IS NOT NULL
                ORDER BY c.created_at DESC, c.id DESC
                LIMIT 1
            ) prev ON true
            RETURNING id, user_uid, request_context, request_goal, response_data, created_at, run_id, cost, endpoint, previous_response_id, changed
            """).AsNoTracking().ToListAsync(cancellationToken);

    private static async Task<IResult> GetAsync(ResponseId responseId, ResponseStoreDbContext db, CancellationToken cancellationToken)
    {
        var row = await db.CrewResponses.AsNoTracking().FirstOrDefaultAsync(r => r.Id == responseId.Value, cancellationToken);
        return row is null ? ApiResults.NotFound(NotFound) : ApiResults.Ok(CrewResponseItem.From(row));
    }

    private static async Task<IResult> ChangesAsync(ResponseId responseId, ResponseStoreDbContext db, CancellationToken cancellationToken)
    {
        var row = await db.CrewResponses.AsNoTracking()
            .Where(r => r.Id == responseId.Value)
            .Select(r => new
            {
                r.Id,
                r.PreviousResponseId,
                r.Changed,
                r.ResponseData,
                Previous = r.Changed == true
                    ? db.CrewResponses.Where(p => p.Id == r.PreviousResponseId).Select(p => p.ResponseData).FirstOrDefault()
                    : null,
            })
            .FirstOrDefaultAsync(cancellationToken);
        return row is null
            ? ApiResults.NotFound(NotFound)
            : ApiResults.Ok(AnswerChangesItem.From(row.Id, row.PreviousResponseId, row.Changed, row.ResponseData, row.Previous));
    }

    private static async Task<IResult> DeleteAsync(
        ResponseId responseId, ResponseStoreDbContext db, AuditTrail audit, HttpRequest request, CancellationToken cancellationToken)
    {
        var deleted = await db.CrewResponses.Where(r => r.Id == responseId.Value).ExecuteDeleteAsync(cancellationToken);
        if (deleted == 0)
        {
            return ApiResults.NotFound(NotFound);
        }

        await audit.RecordAsync(request, AuditActions.CrewResponseDelete, AuditTargets.CrewResponse(responseId.Value));
        return ApiResults.Message(Deleted);
    }
}

/// <summary>The <c>{id}</c> of one crew response: a positive integer, digits only, read by <see cref="RouteId"/>.</summary>
public readonly record struct ResponseId(int Value) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => RouteId.Describe(builder, "integer", "int32");

    public static ValueTask<ResponseId> BindAsync(HttpContext http) =>
        ValueTask.FromResult(new ResponseId(RouteId.PositiveWholeNumber(http, CrewResponsesApi.InvalidId)));
}
