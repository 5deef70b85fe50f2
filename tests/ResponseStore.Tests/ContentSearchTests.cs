using System.Net;
using System.Text.Json;
using CrewPlatform.ResponseStore.Apis;
using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace CrewPlatform.ResponseStore.Tests;

/// <summary>
/// <c>jsonPath</c> and <c>q</c> on /api/crew-responses, through the real service on a real PostgreSQL database: each
/// search finds exactly what the same predicate finds when asked of the table directly.
/// </summary>
public sealed class ContentSearchTests(ResponseStoreApp app) : IClassFixture<ResponseStoreApp>
{
    private readonly HttpClient client = app.CreateClient();

    /// <summary>Answers of the crew's usual shape and of odd ones, as a run of the crew might (or a hand) store them.</summary>
    private static readonly string[] Answers =
    [
        """{"Questions":[{"Question 1":"Should we change prices?","Answers":["Raise the price by 5% in spring","Keep the discount for students"]}]}""",
        """{"Questions":[{"Question 1":"Who buys?","Answers":["Riders and shops"]},{"Question 2":"Where?","Answers":["Café owners in town","Online"]}]}""",
        """{"Questions":[{"Question 1":"Was tun?","Answers":["Eine Preiserhöhung um 3 % ankündigen"]}]}""",
        """{"Questions":[{"Question 1":"Mood?","Answers":["🚲 bikes are back 🎉"]}]}""",
        """{"Questions":[]}""",
        """["price", {"note": "café au lait"}, 3, null]""",
        "\"price rise\"",
        "42",
        "true",
        """{"a":{"b":{"c":[{"d":"Preiserhöhung"},{"d":"deep price"}]}}}""",
        """{"score": 5, "summary": "PRICE up"}""",
        """{"score": 2, "summary": "no change"}""",
        "{}",
    ];

    [Theory]
    [InlineData("""exists($.Questions[*] ? (@.Answers[*] like_regex "price" flag "i"))""", false)]
    [InlineData("""exists($.Questions[*] ? (@.Answers[*] like_regex "^caf" flag "i"))""", false)]
    [InlineData("$.score > 3", false)]
    [InlineData("""exists($.** ? (@ == "Preiserhöhung"))""", false)]
    [InlineData("""exists($.** ? (@ like_regex "é"))""", false)]
    [InlineData("""exists($.** ? (@ like_regex "🚲"))""", false)]
    [InlineData("""exists($.a.b.c[*] ? (@.d starts with "deep"))""", false)]
    [InlineData("""exists($[*] ? (@ == "price"))""", false)]
    [InlineData("""$ == "price rise" """, false)]
    [InlineData("$ == 42 || $ == true", false)]
    [InlineData("""$.type() == "array" """, false)]
    [InlineData("exists($.Questions[*])", false)]
    [InlineData("""$.summary like_regex "price" flag "i" """, false)]
    [InlineData("$.a", true)] // not a predicate: @@ yields null, which matches nothing
    [InlineData("""exists($.nothing ? (@ == "x"))""", true)]
    public async Task A_path_finds_exactly_the_rows_the_same_path_finds_in_sql(string path, bool matchesNothing)
    {
        var run = await InsertCorpusAsync();

        var expected = await IdsBySqlAsync("run_id = $1 AND response_data @@ $2::jsonpath", run, path);
        var found = await WalkAsync($"runId={run}&jsonPath={Uri.EscapeDataString(path)}", pageSize: 2);

        Assert.Equal(expected, found);
        Assert.Equal(matchesNothing, expected.Count == 0);
    }

    [Theory]
    [InlineData("price", false)]
    [InlineData("PRICE", false)]
    [InlineData("café", false)]
    [InlineData("Preiserhöhung", false)]
    [InlineData("\"raise the price\"", false)]
    [InlineData("price -discount", false)]
    [InlineData("bikes or café", false)]
    [InlineData("riders shops", false)]
    [InlineData("🚲 bikes", false)]
    [InlineData("nowhere-to-be-found", true)]
    [InlineData("(((", true)] // websearch syntax never fails: punctuation alone finds nothing
    public async Task Words_find_exactly_the_rows_the_same_full_text_query_finds_in_sql(string words, bool matchesNothing)
    {
        var run = await InsertCorpusAsync();

        var expected = await IdsBySqlAsync(
            "run_id = $1 AND jsonb_to_tsvector('simple', response_data, '[\"string\"]') @@ websearch_to_tsquery('simple', $2)", run, words);
        var found = await WalkAsync($"runId={run}&q={Uri.EscapeDataString(words)}", pageSize: 2);

        Assert.Equal(expected, found);
        Assert.Equal(matchesNothing, expected.Count == 0);
    }

    [Fact]
    public async Task The_stored_search_vector_is_the_answers_strings_whichever_way_the_row_was_written()
    {
        var run = await InsertCorpusAsync();

        Assert.Equal(0, await app.ScalarAsync<long>(
            "SELECT count(*) FROM crew_responses WHERE run_id = $1 AND search_vector IS DISTINCT FROM jsonb_to_tsvector('simple', response_data, '[\"string\"]')", run));
        Assert.Equal(
            "'are':2 'back':3 'bikes':1 'mood':5", // every string, questions included; no keys, no emoji
            await app.ScalarAsync<string>("SELECT search_vector::text FROM crew_responses WHERE run_id = $1 AND response_data::text LIKE '%bikes%'", run));
    }

    [Fact]
    public async Task An_answer_the_batch_writer_stores_is_found_by_its_words_and_its_path()
    {
        var user = await app.AddNewUserAsync();
        var run = Guid.NewGuid();
        await using (var scope = app.Factory.Services.CreateAsyncScope())
        {
            var outcomes = await scope.ServiceProvider.GetRequiredService<CrewResponseBatchWriter>().StoreAsync(
                [new IncomingCrewResponse(run, user, "Bikes", "Sell more", """{"Questions":[{"Question 1":"Prices?","Answers":["Eine Preiserhöhung im Frühjahr"]}]}""")],
                CancellationToken.None);
            Assert.IsType<StoreOutcome.Stored>(Assert.Single(outcomes));
        }

        var id = await app.ScalarAsync<int>("SELECT id FROM crew_responses WHERE run_id = $1", run);
        Assert.Equal([id], await WalkAsync($"runId={run}&q=preiserhöhung", pageSize: 10));
        var path = Uri.EscapeDataString("""exists($.Questions[*].Answers[*] ? (@ like_regex "Frühjahr"))""");
        Assert.Equal([id], await WalkAsync($"runId={run}&jsonPath={path}", pageSize: 10));
    }

    [Fact]
    public async Task A_search_combines_with_user_dates_and_run_and_pages_with_the_keyset_cursor()
    {
        // A run answers each user once: these answers were posted, not run, and carry none.
        var user = await app.AddNewUserAsync();
        var other = await app.AddNewUserAsync();
        var t0 = new DateTime(2024, 4, 1, 0, 0, 0, DateTimeKind.Utc);
        for (var i = 0; i < 24; i++)
        {
            // Every third answer speaks of a price; hours repeat so that the cursor crosses ties.
            var text = i % 3 == 0 ? $"Raise the price by {i}%" : $"Keep the range {i}";
            await InsertAsync(i % 4 == 0 ? other : user, t0.AddHours(i / 2), $$"""{"Questions":[{"Question 1":"Prices?","Answers":["{{text}}"]}]}""", null);
        }

        const string From = "2024-04-01T02:00:00Z";
        const string To = "2024-04-01T10:00:00Z";
        const string Filters = "user_uid = $1 AND created_at >= $3 AND created_at <= $4";
        object[] dates = [new DateTime(2024, 4, 1, 2, 0, 0, DateTimeKind.Unspecified), new DateTime(2024, 4, 1, 10, 0, 0, DateTimeKind.Unspecified)];
        const string Path = """exists($.Questions[*].Answers[*] ? (@ like_regex "price" flag "i"))""";

        var byPath = await IdsBySqlAsync($"response_data @@ $2::jsonpath AND {Filters}", [user, Path, .. dates]);
        var byWords = await IdsBySqlAsync($"search_vector @@ websearch_to_tsquery('simple', $2) AND {Filters}", [user, "raise price", .. dates]);
        var byBoth = await IdsBySqlAsync(
            $"response_data @@ $2::jsonpath AND search_vector @@ websearch_to_tsquery('simple', $5) AND {Filters}", [user, Path, .. dates, "raise price"]);
        Assert.True(byPath.Count >= 3, $"the corpus should give several pages, got {byPath.Count} rows");
        Assert.Equal(byPath, byWords);
        Assert.Equal(byPath, byBoth);

        var common = $"userUid={user}&startDate={Uri.EscapeDataString(From)}&endDate={Uri.EscapeDataString(To)}";
        Assert.Equal(byPath, await WalkAsync($"{common}&jsonPath={Uri.EscapeDataString(Path)}", pageSize: 1));
        Assert.Equal(byWords, await WalkAsync($"{common}&q=raise%20price", pageSize: 2));
        Assert.Equal(byBoth, await WalkAsync($"{common}&q=raise%20price&jsonPath={Uri.EscapeDataString(Path)}", pageSize: 2));

        var total = await PageAsync($"{common}&q=price&includeTotal=true&limit=1");
        Assert.Equal(byWords.Count, total.Total);
        Assert.Equal([byWords[0]], total.Ids);
    }

    [Fact]
    public async Task The_run_filter_lists_only_that_runs_answers()
    {
        var user = await app.AddNewUserAsync();
        var run = Guid.NewGuid();
        var mine = await InsertAsync(user, DateTime.UtcNow, "{}", run);
        await InsertAsync(user, DateTime.UtcNow, "{}", Guid.NewGuid());
        await InsertAsync(user, DateTime.UtcNow, "{}", null);

        Assert.Equal([mine], (await PageAsync($"runId={run}")).Ids);
        Assert.Empty((await PageAsync($"runId={Guid.NewGuid()}")).Ids);
    }

    public static TheoryData<string, string> BadSearches() => new()
    {
        { "jsonPath=$.a[", "jsonPath is not a valid SQL/JSON path: syntax error at end of jsonpath input" },
        { "jsonPath=$.a)", "jsonPath is not a valid SQL/JSON path: syntax error at or near \")\" of jsonpath input" },
        { "jsonPath=exists($.a", "jsonPath is not a valid SQL/JSON path: syntax error at end of jsonpath input" },
        { "jsonPath=$.a ? (@ > 1", "jsonPath is not a valid SQL/JSON path: syntax error at end of jsonpath input" },
        { "jsonPath=$$", "jsonPath is not a valid SQL/JSON path: syntax error at or near \"$\" of jsonpath input" },
        { "jsonPath=" + Uri.EscapeDataString("$.a ? (@ lik_regex \"x\")"), "jsonPath is not a valid SQL/JSON path: syntax error at or near \" \" of jsonpath input" },
        { "jsonPath=price", "jsonPath is not a valid SQL/JSON path: syntax error at end of jsonpath input" },
        { "jsonPath=" + Uri.EscapeDataString("$ like_regex \"(\""), "jsonPath is not a valid SQL/JSON path: invalid regular expression: parentheses () not balanced" },
        { "jsonPath=" + Uri.EscapeDataString("$ like_regex \"a\" flag \"z\""), "jsonPath is not a valid SQL/JSON path: invalid input syntax for type jsonpath" },
        { "jsonPath=@.a", "jsonPath is not a valid SQL/JSON path: @ is not allowed in root expressions" },
        { "jsonPath=last", "jsonPath is not a valid SQL/JSON path: LAST is allowed only in array subscripts" },
        { "jsonPath=" + Uri.EscapeDataString("$.\"unterminated"), "jsonPath is not a valid SQL/JSON path: unexpected end of quoted string at end of jsonpath input" },
        { "jsonPath=strict%20lax%20$", "jsonPath is not a valid SQL/JSON path: syntax error at or near \" \" of jsonpath input" },
        { "jsonPath=$.a%20=%201", "jsonPath is not a valid SQL/JSON path: syntax error at or near \"=\" of jsonpath input" },
        { "jsonPath=" + Uri.EscapeDataString("$.a == \"\\x\""), "jsonPath is not a valid SQL/JSON path: invalid hex character sequence at or near \"\\x\" of jsonpath input" },
        { "jsonPath=", "jsonPath must not be empty" },
        { "jsonPath", "jsonPath must not be empty" },
        { "jsonPath=%20%09", "jsonPath must not be empty" },
        { "jsonPath=$.a%00", "jsonPath must be at most 2000 characters of text" },
        { "jsonPath=" + new string('$', JsonPathFilter.MaxLength + 1), "jsonPath must be at most 2000 characters of text" },
        { "jsonPath=$.a&jsonPath=$.b", "jsonPath must be given at most once" },
        { "q=", "q must not be empty" },
        { "q", "q must not be empty" },
        { "q=%20%20", "q must not be empty" },
        { "q=a%00b", "q must be at most 500 characters of text" },
        { "jsonPath=$.a[*", "jsonPath is not a valid SQL/JSON path: syntax error at end of jsonpath input" },
        { "q=" + new string('w', TextQuery.MaxLength + 1), "q must be at most 500 characters of text" },
        { "q=a&q=b", "q must be given at most once" },
        { "runId=not-a-run", "runId must be a run id (a UUID such as 6f1c1f7e-3f53-4a43-9d3c-4a1c7e0b9f00)" },
    };

    [Theory]
    [MemberData(nameof(BadSearches))]
    public async Task A_bad_path_or_query_answers_400_in_the_envelope_naming_the_problem(string query, string error)
    {
        await EnvelopeAssert.ErrorAsync(await client.GetAsync($"/api/crew-responses?{query}"), HttpStatusCode.BadRequest, error);
    }

    [Fact]
    public async Task A_path_that_fails_on_an_answer_answers_400_naming_jsonpath()
    {
        var run = Guid.NewGuid();
        await InsertAsync(await app.AddNewUserAsync(), DateTime.UtcNow, """{"at":"10:00"}""", run);

        await EnvelopeAssert.ErrorAsync(
            await client.GetAsync($"/api/crew-responses?runId={run}&jsonPath={Uri.EscapeDataString("$.at.datetime(\"XYZ\") == 1")}"),
            HttpStatusCode.BadRequest,
            "jsonPath could not be evaluated: invalid datetime format separator: \"X\"");
    }

    [Fact]
    public async Task The_openapi_document_describes_the_search_parameters()
    {
        using var document = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));
        var list = document.RootElement.GetProperty("paths").GetProperty("/api/crew-responses").GetProperty("get");
        var parameters = list.GetProperty("parameters").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!);

        Assert.Contains("like_regex", parameters["jsonPath"].GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Contains("websearch_to_tsquery", parameters["q"].GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Equal("uuid", parameters["runId"].GetProperty("schema").GetProperty("format").GetString());
        Assert.True(list.GetProperty("responses").TryGetProperty("422", out _));
    }

    /// <summary>Every page from the first on, following <c>nextCursor</c>, as the ids in the order given.</summary>
    private async Task<List<int>> WalkAsync(string query, int pageSize)
    {
        var ids = new List<int>();
        string? cursor = null;
        for (var pages = 0; pages < 100; pages++)
        {
            var page = await PageAsync($"{query}&limit={pageSize}{(cursor is null ? "" : $"&after={cursor}")}");
            ids.AddRange(page.Ids);
            cursor = page.NextCursor;
            if (cursor is null)
            {
                return ids;
            }
        }

        throw new InvalidOperationException("more than 100 pages");
    }

    private async Task<(List<int> Ids, long? Total, string? NextCursor)> PageAsync(string query)
    {
        var response = await client.GetAsync($"/api/crew-responses?{query}");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{query}: {(int)response.StatusCode} {text}");
        using var body = JsonDocument.Parse(text);
        var root = body.RootElement;
        return (
            root.GetProperty("data").EnumerateArray().Select(i => i.GetProperty("id").GetInt32()).ToList(),
            root.TryGetProperty("total", out var total) ? total.GetInt64() : null,
            root.TryGetProperty("nextCursor", out var cursor) ? cursor.GetString() : null);
    }

    /// <summary>The rows where <paramref name="predicate"/> holds (over <paramref name="values"/>, $1 on), in the list's order.</summary>
    private async Task<List<int>> IdsBySqlAsync(string predicate, params object[] values)
    {
        await using var connection = app.OpenConnection();
        await using var command = new NpgsqlCommand($"SELECT id FROM crew_responses WHERE {predicate} ORDER BY created_at DESC, id DESC", connection);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        var ids = new List<int>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetInt32(0));
        }

        return ids;
    }

    /// <summary>The corpus as a new run's answers, one per user, two at each creation time, so pages cross ties.</summary>
    private async Task<Guid> InsertCorpusAsync()
    {
        var run = Guid.NewGuid();
        var t0 = new DateTime(2024, 2, 1, 8, 0, 0, DateTimeKind.Utc);
        for (var i = 0; i < Answers.Length; i++)
        {
            await InsertAsync(await app.AddNewUserAsync(), t0.AddMinutes(i / 2 * 2), Answers[i], run);
        }

        return run;
    }

    private async Task<int> InsertAsync(string user, DateTime createdAtUtc, string json, Guid? run) =>
        await app.ScalarAsync<int>(
            "INSERT INTO crew_responses (user_uid, response_data, created_at, run_id) VALUES ($1, $2::jsonb, $3, $4) RETURNING id",
            user,
            json,
            DateTime.SpecifyKind(createdAtUtc, DateTimeKind.Unspecified),
            run is { } id ? id : DBNull.Value);

}
