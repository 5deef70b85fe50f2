using System.Globalization;
using System.Text.Json;
using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.ServiceDefaults;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace CrewPlatform.ResponseStore.Apis;

/// <summary>
/// <c>/api/crew-responses</c>, wire-compatible with the host application's route handlers. Query strings and bodies
/// are parsed here rather than by model binding, so every bad input gets the contract's envelope and a precise message.
/// </summary>
public static partial class CrewResponsesApi
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;
    public const long MaxBodyBytes = 1024 * 1024;

    public const string RequiredFields = "userUid and responseData are required";
    public const string UserDoesNotExist = "User does not exist";
    public const string InvalidId = "Invalid ID";
    public const string NotFound = "Crew response not found";
    public const string Deleted = "Crew response deleted successfully";
    public const string UnstorableData = "responseData contains a value that cannot be stored as JSON";

    public static IEndpointRouteBuilder MapCrewResponsesApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/crew-responses").WithTags("CrewResponses");
        api.MapGet("/", ListAsync).WithSummary("Crew responses, newest first, filtered by user and creation time");
        api.MapPost("/", CreateAsync).WithSummary("Store a crew response");
        api.MapGet("/{id}", GetAsync).WithSummary("One crew response");
        api.MapDelete("/{id}", DeleteAsync).WithSummary("Delete one crew response");
        return app;
    }

    private static async Task<IResult> ListAsync(HttpRequest request, ResponseStoreDbContext db, CancellationToken cancellationToken)
    {
        var query = ListQuery.Parse(request.Query, out var error);
        if (query is null)
        {
            return ApiResults.BadRequest(error!);
        }

        if (RunOriginFilter.Parse(request.Query, out var originError) is not { } origin)
        {
            return ApiResults.BadRequest(originError!);
        }

        var rows = origin.Apply(db.CrewResponses.AsNoTracking(), db.RunOrigins);
        if (query.UserUid is not null)
        {
            rows = rows.Where(r => r.UserUid == query.UserUid);
        }

        if (query.From is { } from)
        {
            rows = rows.Where(r => r.CreatedAt >= from);
        }

        if (query.To is { } to)
        {
            rows = query.ToIsExclusive ? rows.Where(r => r.CreatedAt < to) : rows.Where(r => r.CreatedAt <= to);
        }

        var total = await rows.LongCountAsync(cancellationToken);
        var page = await rows
            .OrderByDescending(r => r.CreatedAt)
            .ThenByDescending(r => r.Id)
            .Skip(query.Offset)
            .Take(query.Limit)
            .ToListAsync(cancellationToken);

        return ApiResults.Ok(page.Select(CrewResponseItem.From).ToList(), count: page.Count, total: total);
    }

    private static async Task<IResult> CreateAsync(HttpContext http, ResponseStoreDbContext db, CancellationToken cancellationToken)
    {
        var (body, tooLarge) = await ReadBodyAsync(http, cancellationToken);
        if (tooLarge)
        {
            return ApiResults.Error(StatusCodes.Status413PayloadTooLarge, "Request body must not exceed 1 MiB");
        }

        var (row, status, error) = NewCrewResponse.Parse(body);
        if (row is null)
        {
            return ApiResults.Error(status, error!);
        }

        // Asked first so that an unknown user, a client error, does not surface as a failed INSERT in the error logs;
        // the foreign key still decides when the user is deleted in between.
        var userExists = await db.Database
            .SqlQuery<bool>($"SELECT EXISTS (SELECT 1 FROM users WHERE uid = {row.UserUid}) AS \"Value\"")
            .SingleAsync(cancellationToken);
        if (!userExists)
        {
            return ApiResults.Error(StatusCodes.Status422UnprocessableEntity, UserDoesNotExist);
        }

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
            return ApiResults.BadRequest(UnstorableData);
        }

        return ApiResults.Created($"/api/crew-responses/{row.Id}", CrewResponseItem.From(row));
    }

    private static async Task<IResult> GetAsync(string id, ResponseStoreDbContext db, CancellationToken cancellationToken)
    {
        if (ParseId(id) is not { } key)
        {
            return ApiResults.BadRequest(InvalidId);
        }

        var row = await db.CrewResponses.AsNoTracking().FirstOrDefaultAsync(r => r.Id == key, cancellationToken);
        return row is null ? ApiResults.NotFound(NotFound) : ApiResults.Ok(CrewResponseItem.From(row));
    }

    private static async Task<IResult> DeleteAsync(string id, ResponseStoreDbContext db, CancellationToken cancellationToken)
    {
        if (ParseId(id) is not { } key)
        {
            return ApiResults.BadRequest(InvalidId);
        }

        var deleted = await db.CrewResponses.Where(r => r.Id == key).ExecuteDeleteAsync(cancellationToken);
        return deleted == 0 ? ApiResults.NotFound(NotFound) : ApiResults.Message(Deleted);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^(.+T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:\d{2})$")]
    private static partial System.Text.RegularExpressions.Regex UnencodedPlusOffset();

    private static int? ParseId(string id) =>
        int.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0 ? value : null;

    /// <summary>
    /// Reads at most <see cref="MaxBodyBytes"/>: the declared length is checked first, and the limit is enforced while
    /// reading too, for chunked bodies and for hosts (TestServer) that do not apply Kestrel's limit.
    /// </summary>
    private static async Task<(byte[] Body, bool TooLarge)> ReadBodyAsync(HttpContext http, CancellationToken cancellationToken)
    {
        if (http.Request.ContentLength > MaxBodyBytes)
        {
            return ([], true);
        }

        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBodyBytes + 1;
        }

        try
        {
            return await CappedRead.ReadAsync(http.Request.Body, MaxBodyBytes, cancellationToken) is { } body ? (body, false) : ([], true);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return ([], true);
        }
    }

    /// <summary>The list's query string: <c>userUid</c>, <c>limit</c>, <c>offset</c>, <c>startDate</c>, <c>endDate</c>.</summary>
    private sealed record ListQuery(string? UserUid, int Limit, int Offset, DateTime? From, DateTime? To, bool ToIsExclusive)
    {
        public static ListQuery? Parse(IQueryCollection query, out string? error)
        {
            error = null;
            foreach (var name in new[] { "userUid", "limit", "offset", "startDate", "endDate" })
            {
                if (query[name].Count > 1)
                {
                    error = $"{name} must be given at most once";
                    return null;
                }
            }

            var userUid = Value(query, "userUid");
            if (userUid is not null && (userUid.Length > 255 || !StorableText.IsStorable(userUid)))
            {
                // No stored uid looks like this (PostgreSQL text cannot even hold a NUL): say so rather than fail.
                error = "userUid must be at most 255 characters of text";
                return null;
            }

            var limit = DefaultLimit;
            if (Value(query, "limit") is { } limitText)
            {
                if (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit))
                {
                    error = "limit must be a non-negative integer";
                    return null;
                }

                if (limit > MaxLimit)
                {
                    error = $"limit must not exceed {MaxLimit}";
                    return null;
                }
            }

            var offset = 0;
            if (Value(query, "offset") is { } offsetText && !int.TryParse(offsetText, NumberStyles.None, CultureInfo.InvariantCulture, out offset))
            {
                error = "offset must be a non-negative integer";
                return null;
            }

            DateTime? from = null;
            if (Value(query, "startDate") is { } startText)
            {
                if (ParseDate(startText) is not { } start)
                {
                    error = "startDate must be an ISO-8601 date or date-time";
                    return null;
                }

                from = start.Instant;
            }

            DateTime? to = null;
            var toIsExclusive = false;
            if (Value(query, "endDate") is { } endText)
            {
                if (ParseDate(endText) is not { } end)
                {
                    error = "endDate must be an ISO-8601 date or date-time";
                    return null;
                }

                // A bare date as endDate means the whole of that day (UTC), not its first instant.
                // The last day a DateTime can hold has no next day: up to its end means no upper bound at all.
                (to, toIsExclusive) = end.DateOnly
                    ? (end.Instant.Date == DateTime.MaxValue.Date ? (DateTime?)null : end.Instant.AddDays(1), true)
                    : ((DateTime?)end.Instant, false);
            }

            if (from is not null && to is not null && (toIsExclusive ? from >= to : from > to))
            {
                error = "startDate must not be after endDate";
                return null;
            }

            return new ListQuery(userUid, limit, offset, from, to, toIsExclusive);
        }

        private static string? Value(IQueryCollection query, string name) =>
            query[name].ToString() is { Length: > 0 } value ? value : null;

        /// <summary>ISO-8601 date or date-time; without an offset it is taken as UTC, the zone created_at is kept in.</summary>
        private static (DateTime Instant, bool DateOnly)? ParseDate(string text)
        {
            const DateTimeStyles Utc = DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal;
            if (DateTime.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, Utc, out var date))
            {
                return (DateTime.SpecifyKind(date, DateTimeKind.Utc), true);
            }

            // An unencoded "+02:00" in a query string arrives as " 02:00".
            text = UnencodedPlusOffset().Replace(text, "$1+$2");

            string[] formats =
            [
                "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF",
                "yyyy-MM-dd'T'HH:mmK", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
                "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFFF", "yyyy-MM-dd HH:mm:ssK", "yyyy-MM-dd HH:mm:ss.FFFFFFFK",
            ];
            return DateTimeOffset.TryParseExact(text, formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var instant)
                ? (instant.UtcDateTime, false)
                : null;
        }
    }

    /// <summary>The POST body: <c>{userUid, requestContext?, requestGoal?, responseData}</c>.</summary>
    private static class NewCrewResponse
    {
        public static (CrewResponse? Row, int Status, string? Error) Parse(byte[] body)
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(body);
            }
            catch (JsonException)
            {
                return Bad("Request body is not valid JSON");
            }

            using (document)
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    return Bad("Request body must be a JSON object");
                }

                var hasUser = root.TryGetProperty("userUid", out var user) && user.ValueKind != JsonValueKind.Null
                    && !(user.ValueKind == JsonValueKind.String && user.ValueEquals(""));
                var hasData = root.TryGetProperty("responseData", out var data) && data.ValueKind != JsonValueKind.Null;
                if (!hasUser || !hasData)
                {
                    return Bad(RequiredFields);
                }

                if (user.ValueKind != JsonValueKind.String)
                {
                    return Bad("userUid must be a string");
                }

                if (data.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array))
                {
                    return Bad("responseData must be a JSON object or array");
                }

                if (!IsStorableJson(data))
                {
                    return Bad(UnstorableData);
                }

                var (context, contextError) = OptionalText(root, "requestContext");
                var (goal, goalError) = OptionalText(root, "requestGoal");
                if ((contextError ?? goalError) is { } textError)
                {
                    return Bad(textError);
                }

                if (!TryGetString(user, out var userUid) || userUid.Length > 255 || !StorableText.IsStorable(userUid))
                {
                    // No such uid can be in users (varchar(255), no U+0000).
                    return (null, StatusCodes.Status422UnprocessableEntity, UserDoesNotExist);
                }

                return (new CrewResponse
                {
                    UserUid = userUid,
                    RequestContext = context,
                    RequestGoal = goal,
                    ResponseData = data.GetRawText(),
                }, StatusCodes.Status201Created, null);
            }
        }

        /// <summary>jsonb refuses "\u0000" and escaped lone surrogates inside strings and property names.</summary>
        private static bool IsStorableJson(JsonElement element) => element.ValueKind switch
        {
            JsonValueKind.Object => element.EnumerateObject().All(p => IsStorableName(p) && IsStorableJson(p.Value)),
            JsonValueKind.Array => element.EnumerateArray().All(IsStorableJson),
            JsonValueKind.String => TryGetString(element, out var value) && StorableText.IsStorable(value),
            _ => true,
        };

        private static bool IsStorableName(JsonProperty property)
        {
            try
            {
                return StorableText.IsStorable(property.Name);
            }
            catch (InvalidOperationException)
            {
                return false;
            }
        }

        private static (string? Value, string? Error) OptionalText(JsonElement root, string name)
        {
            if (!root.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null)
            {
                return (null, null);
            }

            if (element.ValueKind != JsonValueKind.String)
            {
                return (null, $"{name} must be a string or null");
            }

            return TryGetString(element, out var value) && StorableText.IsStorable(value)
                ? (value, null)
                : (null, $"{name} contains characters that cannot be stored");
        }

        private static bool TryGetString(JsonElement element, out string value)
        {
            try
            {
                value = element.GetString() ?? "";
                return true;
            }
            catch (InvalidOperationException)
            {
                // An escaped lone surrogate ("\ud800") is valid JSON syntax but no valid string.
                value = "";
                return false;
            }
        }

        private static (CrewResponse?, int, string?) Bad(string error) => (null, StatusCodes.Status400BadRequest, error);
    }
}
