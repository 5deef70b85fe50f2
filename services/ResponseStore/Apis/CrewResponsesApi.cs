using System.Globalization;
using System.Reflection;
using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.ServiceDefaults;
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
            .WithSummary("Crew responses, newest first, filtered by user, run, creation time and content")
            .WithDescription("`count` is the page's size; `includeTotal=true` adds `total`; a full page carries `nextCursor`, passed back as `after`. "
                + "`jsonPath` and `q` search the answers' content; a search runs under a statement timeout (`CREW_RESPONSES_SEARCH_TIMEOUT_MS`) "
                + "and answers 422 when it runs out: narrow it with `userUid`, `runId`, `startDate` or `endDate`.")
            .ProducesEnvelope<List<CrewResponseItem>>().ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status422UnprocessableEntity);
        api.MapPost("/", CreateAsync).WithName("createCrewResponse").WithSummary("Store a crew response")
            .Accepts<NewCrewResponse>("application/json")
            .ProducesEnvelope<CrewResponseItem>(StatusCodes.Status201Created)
            .ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status422UnprocessableEntity);
        api.MapGet("/{id}", GetAsync).WithName("getCrewResponse").WithSummary("One crew response")
            .ProducesEnvelope<CrewResponseItem>().ProducesErrors(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
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

    private static async Task<IResult> CreateAsync(NewCrewResponse body, ResponseStoreDbContext db, CancellationToken cancellationToken)
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

        var row = body.ToRow();
        db.CrewResponses.Add(row);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.ForeignKeyViolation })
        {
            return ApiResults.Error(StatusCodes.Status422UnprocessableEntity, UserDoesNotExist);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException pg && pg.SqlState.StartsWith("22", StringComparison.Ordinal))
        {
            // What the checks in NewCrewResponse do not catch, e.g. a number too large for jsonb's numeric.
            return ApiResults.BadRequest(NewCrewResponse.UnstorableData);
        }

        return ApiResults.Created($"/api/crew-responses/{row.Id}", CrewResponseItem.From(row));
    }

    private static async Task<IResult> GetAsync(ResponseId responseId, ResponseStoreDbContext db, CancellationToken cancellationToken)
    {
        var row = await db.CrewResponses.AsNoTracking().FirstOrDefaultAsync(r => r.Id == responseId.Value, cancellationToken);
        return row is null ? ApiResults.NotFound(NotFound) : ApiResults.Ok(CrewResponseItem.From(row));
    }

    private static async Task<IResult> DeleteAsync(ResponseId responseId, ResponseStoreDbContext db, CancellationToken cancellationToken)
    {
        var deleted = await db.CrewResponses.Where(r => r.Id == responseId.Value).ExecuteDeleteAsync(cancellationToken);
        return deleted == 0 ? ApiResults.NotFound(NotFound) : ApiResults.Message(Deleted);
    }
}

/// <summary>The <c>{id}</c> of one crew response: a positive integer, digits only, read by <see cref="RouteId"/>.</summary>
public readonly record struct ResponseId(int Value) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => RouteId.Describe(builder, "integer", "int32");

    public static ValueTask<ResponseId> BindAsync(HttpContext http) =>
        ValueTask.FromResult(new ResponseId(RouteId.PositiveWholeNumber(http, CrewResponsesApi.InvalidId)));
}
