using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CrewPlatform.Testing;

namespace CrewPlatform.ResponseStore.Tests;

/// <summary>/api/crew-responses through the real service on a real PostgreSQL database.</summary>
public sealed class CrewResponsesApiTests(ResponseStoreApp app) : IClassFixture<ResponseStoreApp>
{
    private readonly HttpClient client = app.CreateClient();

    [Fact]
    public async Task Posting_a_response_stores_it_and_answers_201_with_the_item_and_its_location()
    {
        var user = await app.AddNewUserAsync();

        var response = await PostJsonAsync($$$"""
            {"userUid":"{{{user}}}","requestContext":"We sell bikes","requestGoal":"Sell more","responseData":{"Questions":[{"Question 1":"Who?","Answers":["Riders"]}]}}
            """);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var body = await JsonAsync(response);
        Assert.True(body.RootElement.GetProperty("success").GetBoolean());
        var item = body.RootElement.GetProperty("data");
        var id = item.GetProperty("id").GetInt32();
        Assert.Equal($"/api/crew-responses/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal(user, item.GetProperty("userUid").GetString());
        Assert.Equal("We sell bikes", item.GetProperty("requestContext").GetString());
        Assert.Equal("Sell more", item.GetProperty("requestGoal").GetString());
        Assert.Equal(JsonValueKind.Object, item.GetProperty("responseData").ValueKind);
        Assert.Equal("Riders", item.GetProperty("responseData").GetProperty("Questions")[0].GetProperty("Answers")[0].GetString());
        Assert.EndsWith("Z", item.GetProperty("createdAt").GetString(), StringComparison.Ordinal);
        Assert.True(DateTimeOffset.UtcNow - item.GetProperty("createdAt").GetDateTimeOffset() < TimeSpan.FromMinutes(5));
        Assert.Equal(JsonValueKind.Null, item.GetProperty("runId").ValueKind);
        Assert.Equal(JsonValueKind.Null, item.GetProperty("cost").ValueKind);
        Assert.Equal(
            new[] { "id", "userUid", "requestContext", "requestGoal", "responseData", "createdAt", "runId", "cost" },
            item.EnumerateObject().Select(p => p.Name));
        Assert.Equal(1, await app.ScalarAsync<long>("SELECT count(*) FROM crew_responses WHERE id = $1 AND user_uid = $2", id, user));
    }

    [Fact]
    public async Task A_posted_response_reads_back_by_id_with_an_array_as_response_data_and_no_context()
    {
        var user = await app.AddNewUserAsync();
        var created = await PostJsonAsync($$"""{"userUid":"{{user}}","responseData":[1,"two",{"three":3}]}""");
        using var createdBody = await JsonAsync(created);
        var id = createdBody.RootElement.GetProperty("data").GetProperty("id").GetInt32();

        var response = await client.GetAsync($"/api/crew-responses/{id}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = await JsonAsync(response);
        var item = body.RootElement.GetProperty("data");
        Assert.Equal(id, item.GetProperty("id").GetInt32());
        Assert.Equal("""[1, "two", {"three": 3}]""", item.GetProperty("responseData").GetRawText());
        Assert.Equal(JsonValueKind.Null, item.GetProperty("requestContext").ValueKind);
        Assert.Equal(JsonValueKind.Null, item.GetProperty("requestGoal").ValueKind);
    }

    [Fact]
    public async Task A_posted_cost_is_stored_and_read_back_by_id_and_in_the_list()
    {
        var user = await app.AddNewUserAsync();
        var created = await PostJsonAsync($$"""{"userUid":"{{user}}","responseData":{},"cost":0.0125}""");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var createdBody = await JsonAsync(created);
        var id = createdBody.RootElement.GetProperty("data").GetProperty("id").GetInt32();
        Assert.Equal(0.0125m, createdBody.RootElement.GetProperty("data").GetProperty("cost").GetDecimal());
        Assert.Equal(0.0125m, await app.ScalarAsync<decimal>("SELECT cost FROM crew_responses WHERE id = $1", id));

        using (var one = await JsonAsync(await client.GetAsync($"/api/crew-responses/{id}")))
        {
            Assert.Equal(0.0125m, one.RootElement.GetProperty("data").GetProperty("cost").GetDecimal());
        }

        var free = await PostJsonAsync($$"""{"userUid":"{{user}}","responseData":[],"cost":null}""");
        Assert.Equal(HttpStatusCode.Created, free.StatusCode);
        using var list = await JsonAsync(await client.GetAsync($"/api/crew-responses?userUid={user}"));
        var costs = list.RootElement.GetProperty("data").EnumerateArray()
            .Select(i => i.GetProperty("cost") is { ValueKind: JsonValueKind.Number } c ? c.GetDecimal() : (decimal?)null)
            .Order()
            .ToList();
        Assert.Equal([null, 0.0125m], costs);
    }

    [Fact]
    public async Task Storing_and_deleting_an_answer_leave_one_audit_row_each_naming_the_user_but_not_the_answer()
    {
        var user = await app.AddNewUserAsync();
        var audited = app.CreateClient();
        audited.DefaultRequestHeaders.Add(ServiceDefaults.CrewActor.Header, "ops.answers");
        using var created = await audited.PostAsync("/api/crew-responses",
            new StringContent($$"""{"userUid":"{{user}}","responseData":{"plan":"confidential answer"},"cost":0.5}""", System.Text.Encoding.UTF8, "application/json"));
        using var body = await JsonAsync(created);
        var id = body.RootElement.GetProperty("data").GetProperty("id").GetInt32();
        Assert.Equal(HttpStatusCode.OK, (await audited.DeleteAsync($"/api/crew-responses/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await audited.DeleteAsync($"/api/crew-responses/{id}")).StatusCode);

        var rows = await app.ScalarAsync<string>(
            "SELECT string_agg(concat_ws(' ', actor, service, action, target, fields::text), E'\\n' ORDER BY id) FROM audit.entries WHERE actor = 'ops.answers'");

        Assert.Equal(
            $"""
            ops.answers response-store crew-response.create crew-response:{id} {"{"}"cost": 0.5, "userUid": "{user}"{"}"}
            ops.answers response-store crew-response.delete crew-response:{id} {"{}"}
            """,
            rows);
    }

    [Fact]
    public async Task Deleting_a_response_removes_it_and_a_second_delete_answers_404()
    {
        var id = await InsertAsync(await app.AddNewUserAsync(), DateTime.UtcNow);

        var deleted = await client.DeleteAsync($"/api/crew-responses/{id}");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        using (var body = await JsonAsync(deleted))
        {
            Assert.True(body.RootElement.GetProperty("success").GetBoolean());
            Assert.Equal("Crew response deleted successfully", body.RootElement.GetProperty("message").GetString());
        }

        Assert.Equal(0, await app.ScalarAsync<long>("SELECT count(*) FROM crew_responses WHERE id = $1", id));
        await EnvelopeAssert.ErrorAsync(await client.GetAsync($"/api/crew-responses/{id}"), HttpStatusCode.NotFound, "Crew response not found");
        await EnvelopeAssert.ErrorAsync(await client.DeleteAsync($"/api/crew-responses/{id}"), HttpStatusCode.NotFound, "Crew response not found");
    }

    [Fact]
    public async Task The_list_is_newest_first_with_ties_by_id_and_pages_with_count_and_total()
    {
        var user = await app.AddNewUserAsync();
        var other = await app.AddNewUserAsync();
        var t0 = new DateTime(2024, 3, 1, 8, 0, 0, DateTimeKind.Utc);
        var oldest = await InsertAsync(user, t0);
        var tieA = await InsertAsync(user, t0.AddHours(1));
        var tieB = await InsertAsync(user, t0.AddHours(1));
        var newest = await InsertAsync(user, t0.AddHours(2));
        await InsertAsync(other, t0.AddHours(3));

        var all = await ListAsync($"?userUid={user}&includeTotal=true");
        Assert.Equal([newest, tieB, tieA, oldest], all.Ids);
        Assert.Equal(4, all.Count);
        Assert.Equal(4, all.Total);

        var page = await ListAsync($"?userUid={user}&limit=2&offset=1&includeTotal=true");
        Assert.Equal([tieB, tieA], page.Ids);
        Assert.Equal(2, page.Count);
        Assert.Equal(4, page.Total);

        var beyond = await ListAsync($"?userUid={user}&offset=10&includeTotal=true");
        Assert.Empty(beyond.Ids);
        Assert.Equal(0, beyond.Count);
        Assert.Equal(4, beyond.Total);
    }

    [Fact]
    public async Task Without_include_total_the_list_counts_nothing_and_gives_no_total()
    {
        var user = await app.AddNewUserAsync();
        await InsertAsync(user, DateTime.UtcNow);

        var page = await ListAsync($"?userUid={user}");
        Assert.Equal(1, page.Count);
        Assert.Null(page.Total);

        Assert.Null((await ListAsync($"?userUid={user}&includeTotal=false")).Total);
        Assert.Equal(1, (await ListAsync($"?userUid={user}&includeTotal=true")).Total);
    }

    [Fact]
    public async Task Following_next_cursors_walks_every_row_once_in_order_through_ties_and_stops_after_the_last_full_page()
    {
        var user = await app.AddNewUserAsync();
        var t0 = new DateTime(2024, 5, 1, 8, 0, 0, DateTimeKind.Utc);
        var inserted = new List<(int Id, int Hours)>();
        foreach (var hours in new[] { 0, 1, 1, 1, 2, 3, 3 })
        {
            inserted.Add((await InsertAsync(user, t0.AddHours(hours)), hours));
        }

        var expected = inserted.OrderByDescending(r => r.Hours).ThenByDescending(r => r.Id).Select(r => r.Id).ToList();
        var walked = new List<int>();
        var pages = 0;
        string? cursor = null;
        do
        {
            var page = await ListAsync($"?userUid={user}&limit=2{(cursor is null ? "" : $"&after={cursor}")}");
            walked.AddRange(page.Ids);
            cursor = page.NextCursor;
            pages++;
        }
        while (cursor is not null && pages < 10);

        Assert.Equal(expected, walked);
        Assert.Equal(4, pages); // 2 + 2 + 2 + 1: the last page is not full and has no nextCursor

        // A cursor with an offset skips that many rows after the cursor; a cursor past the oldest row gives an empty page.
        var first = await ListAsync($"?userUid={user}&limit=2");
        Assert.Equal(expected.Skip(3).Take(2), (await ListAsync($"?userUid={user}&limit=2&offset=1&after={first.NextCursor}")).Ids);
        var last = await ListAsync($"?userUid={user}&limit=1&offset=6");
        Assert.Empty((await ListAsync($"?userUid={user}&after={last.NextCursor}")).Ids);
    }

    [Fact]
    public async Task A_cursor_from_a_row_without_a_creation_time_continues_with_the_dated_rows()
    {
        var user = await app.AddNewUserAsync();
        var dated = await InsertAsync(user, new DateTime(2024, 6, 1, 0, 0, 0, DateTimeKind.Utc));
        var undatedOld = await app.ScalarAsync<int>("INSERT INTO crew_responses (user_uid, response_data, created_at) VALUES ($1, '{}', NULL) RETURNING id", user);
        var undatedNew = await app.ScalarAsync<int>("INSERT INTO crew_responses (user_uid, response_data, created_at) VALUES ($1, '{}', NULL) RETURNING id", user);

        var first = await ListAsync($"?userUid={user}&limit=1");
        Assert.Equal([undatedNew], first.Ids);
        var rest = await ListAsync($"?userUid={user}&after={first.NextCursor}");
        Assert.Equal([undatedOld, dated], rest.Ids);
    }

    [Theory]
    [InlineData("?after=abc", "after must be a nextCursor from a previous page")]
    [InlineData("?after=AAAAAAAAAAAAAAAAAAAAAA", "after must be a nextCursor from a previous page")]
    [InlineData("?after=AAAAAAAAAAAAAAAA", "after must be a nextCursor from a previous page")] // id 0
    [InlineData("?after=f_________wAAAAE", "after must be a nextCursor from a previous page")] // ticks beyond DateTime
    [InlineData("?after=%00%00", "after must be a nextCursor from a previous page")]
    [InlineData("?after=..%2F..%2Fetc%2Fpasswd", "after must be a nextCursor from a previous page")] // found by the fuzz: a 500 once
    [InlineData("?after=AAAAAAAAAAAAAAAB&after=AAAAAAAAAAAAAAAB", "after must be given at most once")]
    [InlineData("?includeTotal=yes", "includeTotal must be true or false")]
    [InlineData("?includeTotal=TRUE%00", "includeTotal must be true or false")]
    [InlineData("?includeTotal=true&includeTotal=true", "includeTotal must be given at most once")]
    public async Task Bad_cursors_and_total_flags_answer_400_with_a_clear_message(string query, string error)
    {
        await EnvelopeAssert.ErrorAsync(await client.GetAsync($"/api/crew-responses{query}"), HttpStatusCode.BadRequest, error);
    }

    [Theory]
    [InlineData("?offset=2147483647&limit=0")]
    [InlineData("?startDate=0001-01-01T00:00:00Z&endDate=9999-12-31T23:59:59.9999999Z")]
    [InlineData("?limit=&offset=&userUid=&startDate=&endDate=")]
    public async Task Values_at_the_edges_of_their_types_list_without_failing(string query)
    {
        await ListAsync(query);
    }

    [Fact]
    public async Task An_end_date_on_the_last_day_a_date_can_hold_lists_everything_instead_of_failing()
    {
        using var response = await client.GetAsync("/api/crew-responses?endDate=9999-12-31&startDate=0001-01-01");
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Date_filters_are_inclusive_and_a_bare_end_date_covers_that_whole_day()
    {
        var user = await app.AddNewUserAsync();
        var before = await InsertAsync(user, new DateTime(2024, 1, 10, 11, 59, 59, DateTimeKind.Utc));
        var atStart = await InsertAsync(user, new DateTime(2024, 1, 10, 12, 0, 0, DateTimeKind.Utc));
        var lateOnEndDay = await InsertAsync(user, new DateTime(2024, 1, 31, 23, 59, 0, DateTimeKind.Utc));
        var nextDay = await InsertAsync(user, new DateTime(2024, 2, 1, 0, 0, 0, DateTimeKind.Utc));

        Assert.Equal(
            [lateOnEndDay, atStart],
            (await ListAsync($"?userUid={user}&startDate=2024-01-10T12:00:00Z&endDate=2024-01-31")).Ids);
        Assert.Equal(
            [atStart],
            (await ListAsync($"?userUid={user}&startDate=2024-01-10T12:00:00Z&endDate=2024-01-10T12:00:00Z")).Ids);
        Assert.Equal(
            [nextDay, lateOnEndDay],
            (await ListAsync($"?userUid={user}&startDate=2024-01-31T23:59:00%2B00:00")).Ids);
        Assert.Equal(
            [before],
            (await ListAsync($"?userUid={user}&endDate=2024-01-10T13:59:59%2B02:00")).Ids);
        Assert.Equal(
            [before],
            (await ListAsync($"?userUid={user}&endDate=2024-01-10T13:59:59+02:00")).Ids);
    }

    [Fact]
    public async Task The_list_defaults_to_100_items_and_accepts_up_to_1000()
    {
        var user = await app.AddNewUserAsync();
        await app.ExecuteAsync(
            "INSERT INTO crew_responses (user_uid, response_data) SELECT $1, jsonb_build_object('n', n) FROM generate_series(1, 101) n", user);

        var byDefault = await ListAsync($"?userUid={user}&includeTotal=true");
        Assert.Equal(100, byDefault.Count);
        Assert.Equal(101, byDefault.Total);

        var max = await ListAsync($"?userUid={user}&limit=1000");
        Assert.Equal(101, max.Count);
    }

    [Theory]
    [InlineData("?limit=abc", "limit must be a whole number from 0 to 1000")]
    [InlineData("?limit=-1", "limit must be a whole number from 0 to 1000")]
    [InlineData("?limit=1.5", "limit must be a whole number from 0 to 1000")]
    [InlineData("?limit=99999999999", "limit must be a whole number from 0 to 1000")]
    [InlineData("?limit=1001", "limit must be a whole number from 0 to 1000")]
    [InlineData("?offset=abc", "offset must be a whole number of 0 or more")]
    [InlineData("?offset=-5", "offset must be a whole number of 0 or more")]
    [InlineData("?startDate=yesterday", "startDate must be an ISO-8601 date or date-time")]
    [InlineData("?startDate=2024-13-01", "startDate must be an ISO-8601 date or date-time")]
    [InlineData("?endDate=2024-02-30T10:00:00Z", "endDate must be an ISO-8601 date or date-time")]
    [InlineData("?startDate=2024-02-01&endDate=2024-01-31", "startDate must not be after endDate")]
    [InlineData("?startDate=2024-01-31T10:00:01Z&endDate=2024-01-31T10:00:00Z", "startDate must not be after endDate")]
    [InlineData("?limit=1&limit=2", "limit must be given at most once")]
    [InlineData("?userUid=%00", "userUid must be at most 255 characters of text")]
    [InlineData("?userUid=a%00b", "userUid must be at most 255 characters of text")]
    [InlineData("?offset=0&offset=0", "offset must be given at most once")]
    [InlineData("?userUid=a&userUid=b", "userUid must be given at most once")]
    [InlineData("?endDate=2024-01-01&endDate=2024-01-02", "endDate must be given at most once")]
    [InlineData("?limit=1%00", "limit must be a whole number from 0 to 1000")]
    [InlineData("?limit=%01", "limit must be a whole number from 0 to 1000")]
    [InlineData("?offset=2147483648", "offset must be a whole number of 0 or more")]
    [InlineData("?offset=99999999999999999999999999999999", "offset must be a whole number of 0 or more")]
    [InlineData("?startDate=2024-01-01%00", "startDate must be an ISO-8601 date or date-time")]
    [InlineData("?startDate=0001-01-01T00:00:00%2B01:00", "startDate must be an ISO-8601 date or date-time")]
    [InlineData("?endDate=9999-12-31T23:59:59-01:00", "endDate must be an ISO-8601 date or date-time")]
    [InlineData("?endDate=10000-01-01", "endDate must be an ISO-8601 date or date-time")]
    public async Task Bad_list_parameters_answer_400_with_a_clear_message(string query, string error)
    {
        await EnvelopeAssert.ErrorAsync(await client.GetAsync($"/api/crew-responses{query}"), HttpStatusCode.BadRequest, error);
    }

    [Theory]
    [InlineData("not json at all", "Request body is not valid JSON")]
    [InlineData("", "Request body is not valid JSON")]
    [InlineData("{\"userUid\":\"u\",", "Request body is not valid JSON")]
    [InlineData("[1,2]", "Request body must be a JSON object")]
    [InlineData("{\"responseData\":{}}", "userUid and responseData are required")]
    [InlineData("{\"userUid\":\"\",\"responseData\":{}}", "userUid and responseData are required")]
    [InlineData("{\"userUid\":\"u\"}", "userUid and responseData are required")]
    [InlineData("{\"userUid\":\"u\",\"responseData\":null}", "userUid and responseData are required")]
    [InlineData("{\"userUid\":42,\"responseData\":{}}", "userUid must be a string")]
    [InlineData("{\"userUid\":\"u\",\"responseData\":\"text\"}", "responseData must be a JSON object or array")]
    [InlineData("{\"userUid\":\"u\",\"responseData\":7}", "responseData must be a JSON object or array")]
    [InlineData("{\"userUid\":\"u\",\"responseData\":true}", "responseData must be a JSON object or array")]
    [InlineData("{\"userUid\":\"u\",\"responseData\":{},\"requestContext\":5}", "requestContext must be a string or null")]
    [InlineData("{\"userUid\":\"u\",\"responseData\":{},\"requestGoal\":\"a\\u0000b\"}", "requestGoal contains characters that cannot be stored")]
    [InlineData("{\"userUid\":\"u\",\"responseData\":{},\"cost\":-0.01}", "cost must be a number >= 0 or null")]
    [InlineData("{\"userUid\":\"u\",\"responseData\":{},\"cost\":\"1.5\"}", "cost must be a number >= 0 or null")]
    [InlineData("{\"userUid\":\"u\",\"responseData\":{},\"cost\":true}", "cost must be a number >= 0 or null")]
    [InlineData("{\"userUid\":\"u\",\"responseData\":{},\"cost\":1e400}", "cost must be a number >= 0 or null")]
    [InlineData("{\"userUid\":\"u\",\"responseData\":{},\"createdAt\":\"2024-01-01\"}", "Unknown field 'createdAt': a crew response takes userUid, requestContext, requestGoal, responseData, cost")]
    public async Task Bad_bodies_answer_400_with_a_clear_message(string json, string error)
    {
        await EnvelopeAssert.ErrorAsync(await PostJsonAsync(json), HttpStatusCode.BadRequest, error);
    }

    [Theory]
    [InlineData("""{"text":"a\u0000b"}""")]
    [InlineData("""{"a\u0000b":1}""")]
    [InlineData("""["\ud800 lone surrogate"]""")]
    [InlineData("""{"n":1e1000000}""")]
    public async Task Response_data_that_jsonb_refuses_answers_400_and_stores_nothing(string data)
    {
        var user = await app.AddNewUserAsync();
        await EnvelopeAssert.ErrorAsync(
            await PostJsonAsync($$$"""{"userUid":"{{{user}}}","responseData":{{{data}}}}"""),
            HttpStatusCode.BadRequest,
            "responseData contains a value that cannot be stored as JSON");
        Assert.Equal(0, await app.ScalarAsync<long>("SELECT count(*) FROM crew_responses WHERE user_uid = $1", user));
    }

    [Theory]
    [InlineData("no-such-user")]
    [InlineData("a-uid-far-longer-than-the-users-table-allows-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public async Task Posting_for_an_unknown_user_answers_422(string user)
    {
        await EnvelopeAssert.ErrorAsync(
            await PostJsonAsync($$$"""{"userUid":"{{{user}}}","responseData":{}}"""),
            HttpStatusCode.UnprocessableEntity,
            "User does not exist");
    }

    [Fact]
    public async Task A_body_declared_larger_than_1_MiB_answers_413()
    {
        var user = await app.AddNewUserAsync();
        using var content = new StringContent(BigBody(user), Encoding.UTF8, "application/json");
        Assert.True(content.Headers.ContentLength > 1024 * 1024);

        await EnvelopeAssert.ErrorAsync(await client.PostAsync("/api/crew-responses", content), HttpStatusCode.RequestEntityTooLarge, "Request body must not exceed 1 MiB");
        Assert.Equal(0, await app.ScalarAsync<long>("SELECT count(*) FROM crew_responses WHERE user_uid = $1", user));
    }

    [Fact]
    public async Task A_body_over_1_MiB_without_a_declared_length_answers_413()
    {
        var user = await app.AddNewUserAsync();
        using var content = new StreamContent(new UnknownLengthStream(Encoding.UTF8.GetBytes(BigBody(user))));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        Assert.Null(content.Headers.ContentLength);

        await EnvelopeAssert.ErrorAsync(await client.PostAsync("/api/crew-responses", content), HttpStatusCode.RequestEntityTooLarge, "Request body must not exceed 1 MiB");
        Assert.Equal(0, await app.ScalarAsync<long>("SELECT count(*) FROM crew_responses WHERE user_uid = $1", user));
    }

    [Fact]
    public async Task A_body_just_under_1_MiB_is_accepted()
    {
        var user = await app.AddNewUserAsync();
        var prefix = $$"""{"userUid":"{{user}}","responseData":{"text":" """;
        const string Suffix = "\"}}";
        var json = prefix + new string('x', (1024 * 1024) - prefix.Length - Suffix.Length) + Suffix;
        Assert.Equal(1024 * 1024, Encoding.UTF8.GetByteCount(json));

        Assert.Equal(HttpStatusCode.Created, (await PostJsonAsync(json)).StatusCode);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("+1")]
    [InlineData("99999999999")]
    [InlineData("1%01")]
    [InlineData("%01")]
    public async Task An_id_that_is_not_a_positive_integer_answers_400_for_get_and_delete(string id)
    {
        await EnvelopeAssert.ErrorAsync(await client.GetAsync($"/api/crew-responses/{id}"), HttpStatusCode.BadRequest, "Invalid ID");
        await EnvelopeAssert.ErrorAsync(await client.DeleteAsync($"/api/crew-responses/{id}"), HttpStatusCode.BadRequest, "Invalid ID");
    }

    [Fact]
    public async Task A_missing_id_answers_404_for_get_and_delete()
    {
        await EnvelopeAssert.ErrorAsync(await client.GetAsync("/api/crew-responses/2147483647"), HttpStatusCode.NotFound, "Crew response not found");
        await EnvelopeAssert.ErrorAsync(await client.DeleteAsync("/api/crew-responses/2147483647"), HttpStatusCode.NotFound, "Crew response not found");
    }

    [Fact]
    public async Task Deleting_a_user_in_the_host_application_removes_their_responses()
    {
        var user = await app.AddNewUserAsync();
        var id = await InsertAsync(user, DateTime.UtcNow);

        await app.ExecuteAsync("DELETE FROM users WHERE uid = $1", user);

        await EnvelopeAssert.ErrorAsync(await client.GetAsync($"/api/crew-responses/{id}"), HttpStatusCode.NotFound, "Crew response not found");
    }

    [Fact]
    public async Task The_openapi_document_describes_every_operation_for_a_generated_client()
    {
        using var document = await OpenApiDocumentCheck.CheckAsync(client, app.Factory.Services, "crew-responses");

        var paths = document.RootElement.GetProperty("paths");
        Assert.Equal(["delete", "get"], paths.GetProperty("/api/crew-responses/{id}").EnumerateObject().Select(p => p.Name).Where(n => n is "get" or "delete").Order());
        var query = paths.GetProperty("/api/crew-responses").GetProperty("get").GetProperty("parameters").EnumerateArray()
            .ToDictionary(p => p.GetProperty("name").GetString()!, p => p.GetProperty("schema").GetProperty("type").GetString());
        Assert.Equal(["get"], paths.GetProperty("/api/crew-responses/{id}/changes").EnumerateObject().Select(p => p.Name).Where(n => n is "get" or "delete"));
        Assert.Equal(["after", "changed", "endDate", "endpoint", "includeTotal", "jsonPath", "limit", "offset", "q", "runId", "scheduleId", "startDate", "userUid"], query.Keys.Order());
        Assert.Equal("integer", query["limit"]);
        Assert.Equal("boolean", query["changed"]);
        var created = paths.GetProperty("/api/crew-responses").GetProperty("post").GetProperty("responses");
        Assert.Equal(["201", "400", "401", "403", "413", "422", "429"], created.EnumerateObject().Select(r => r.Name).Order());
    }

    private static string BigBody(string user) =>
        $$$"""{"userUid":"{{{user}}}","responseData":{"text":"{{{new string('x', (1024 * 1024) + 10)}}}"}}""";

    private async Task<HttpResponseMessage> PostJsonAsync(string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        return await client.PostAsync("/api/crew-responses", content);
    }

    private async Task<(List<int> Ids, int Count, long? Total, string? NextCursor)> ListAsync(string query)
    {
        var response = await client.GetAsync($"/api/crew-responses{query}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = await JsonAsync(response);
        Assert.True(body.RootElement.GetProperty("success").GetBoolean());
        var ids = body.RootElement.GetProperty("data").EnumerateArray().Select(i => i.GetProperty("id").GetInt32()).ToList();
        var root = body.RootElement;
        return (
            ids,
            root.GetProperty("count").GetInt32(),
            root.TryGetProperty("total", out var total) ? total.GetInt64() : null,
            root.TryGetProperty("nextCursor", out var cursor) ? cursor.GetString() : null);
    }

    private async Task<int> InsertAsync(string user, DateTime createdAtUtc) =>
        await app.ScalarAsync<int>(
            "INSERT INTO crew_responses (user_uid, response_data, created_at) VALUES ($1, '{\"a\":1}', $2) RETURNING id",
            user,
            DateTime.SpecifyKind(createdAtUtc, DateTimeKind.Unspecified));


    private static async Task<JsonDocument> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync());

    /// <summary>A readable stream that does not tell its length, so the request is sent without Content-Length.</summary>
    private sealed class UnknownLengthStream(byte[] data) : Stream
    {
        private readonly MemoryStream inner = new(data);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
