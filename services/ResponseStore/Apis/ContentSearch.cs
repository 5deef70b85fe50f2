using System.Reflection;
using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.ServiceDefaults;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace CrewPlatform.ResponseStore.Apis;

/// <summary>
/// The list's search by what an answer says, bound with <c>[AsParameters]</c>: <c>jsonPath</c>, an SQL/JSON path
/// predicate the answer must satisfy (<c>response_data @@ jsonPath</c>, served by the GIN index on
/// <c>response_data jsonb_path_ops</c>), and <c>q</c>, words its strings must contain (full-text search,
/// <c>search_vector @@ websearch_to_tsquery('simple', q)</c>, served by the GIN index on the stored
/// <c>search_vector</c>). Either combines with every other filter and with paging; both given, an answer must match both.
/// </summary>
public sealed record ContentSearch(JsonPathFilter? JsonPath, TextQuery? Q)
{
    public bool IsSearch => JsonPath is not null || Q is not null;

    /// <summary>
    /// The table, narrowed to the matching answers. Raw SQL: EF Core has no translation for jsonb's <c>@@</c> nor a
    /// mapping for the generated <c>search_vector</c> (left out of the model so no other read fetches it); the rest
    /// of the query composes on top of it.
    /// </summary>
    public IQueryable<CrewResponse> Rows(DbSet<CrewResponse> table) => (JsonPath?.Value, Q?.Value) switch
    {
        (null, null) => table,
        ({ } path, null) => table.FromSql($"SELECT * FROM crew_responses WHERE response_data @@ {path}::jsonpath"),
        (null, { } words) => table.FromSql($"SELECT * FROM crew_responses WHERE search_vector @@ websearch_to_tsquery('simple', {words})"),
        ({ } path, { } words) => table.FromSql(
            $"SELECT * FROM crew_responses WHERE response_data @@ {path}::jsonpath AND search_vector @@ websearch_to_tsquery('simple', {words})"),
    };
}

/// <summary>
/// <c>jsonPath</c>: an <see cref="SqlJsonPath">SQL/JSON path predicate</see>, e.g.
/// <c>exists($.Questions[*] ? (@.Answers[*] like_regex "price" flag "i"))</c> or <c>$.score &gt; 3</c>, at most
/// <see cref="MaxLength"/> characters. PostgreSQL parses it while the request binds, so a path it cannot read is a 400
/// carrying PostgreSQL's own message. A path that is not a predicate (<c>$.a</c>) is valid but yields no boolean, so it
/// matches no answer.
/// </summary>
public sealed record JsonPathFilter(string Value) : IEndpointParameterMetadataProvider
{
    public const int MaxLength = SqlJsonPath.MaxLength;

    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => QueryValue.Describe(parameter, builder, "string", description:
        "An SQL/JSON path predicate the answer must satisfy (PostgreSQL `response_data @@ jsonPath`), e.g. "
        + "`exists($.Questions[*] ? (@.Answers[*] like_regex \"price\" flag \"i\"))`; at most 2000 characters. A path PostgreSQL "
        + "cannot parse is a 400 naming the problem; a path that is not a predicate (`$.a`) matches nothing.");

    public static async ValueTask<JsonPathFilter?> BindAsync(HttpContext http, ParameterInfo parameter)
    {
        if (SearchText.Read(http, parameter, MaxLength) is not { } path)
        {
            return null;
        }

        await SqlJsonPath.CheckAsync(http.RequestServices.GetRequiredService<NpgsqlDataSource>(), "jsonPath", path, http.RequestAborted);
        return new JsonPathFilter(path);
    }
}

/// <summary>
/// <c>q</c>: words to find in the answer's strings, in web-search syntax (<c>price rise</c>, <c>"price rise"</c>,
/// <c>price or cost</c>, <c>price -discount</c>), at most <see cref="MaxLength"/> characters. Words are compared
/// as they are written, lower-cased, without stemming (the <c>simple</c> configuration), so they work for any language.
/// </summary>
public sealed record TextQuery(string Value) : IEndpointParameterMetadataProvider
{
    public const int MaxLength = 500;

    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => QueryValue.Describe(parameter, builder, "string", description:
        "Words the answer's strings must contain (PostgreSQL full-text search, `websearch_to_tsquery('simple', q)`): "
        + "`price rise` (both words), `\"price rise\"` (the phrase), `price or cost`, `price -discount`; case-insensitive, "
        + "no stemming; 1 to 500 characters.");

    public static ValueTask<TextQuery?> BindAsync(HttpContext http, ParameterInfo parameter) =>
        ValueTask.FromResult(SearchText.Read(http, parameter, MaxLength) is { } words ? new TextQuery(words) : null);
}

/// <summary>A search value: absent is no search, but given it must hold something, fit its length and be storable text.</summary>
internal static class SearchText
{
    public static string? Read(HttpContext http, ParameterInfo parameter, int maxLength)
    {
        var text = QueryValue.Single(http, parameter, out var name);
        if (text is null)
        {
            // "?q=" or "?q": asked for a search without saying what to find.
            return http.Request.Query.ContainsKey(name) ? throw new InvalidRequestException($"{name} must not be empty") : null;
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            throw new InvalidRequestException($"{name} must not be empty");
        }

        return text.Length <= maxLength && StorableText.IsStorable(text)
            ? text
            : throw new InvalidRequestException($"{name} must be at most {maxLength} characters of text");
    }
}
