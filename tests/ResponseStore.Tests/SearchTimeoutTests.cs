using System.Net;
using System.Text.Json;
using CrewPlatform.ResponseStore.Apis;
using CrewPlatform.Testing;
using Microsoft.Extensions.Options;

namespace CrewPlatform.ResponseStore.Tests;

/// <summary>The service with searches bounded at 1 ms, over a user with 20,000 answers: any search of them runs out.</summary>
public sealed class SlowSearchApp : ResponseStoreApp
{
    public const string User = "slow-search-user";

    protected override IReadOnlyDictionary<string, string?> Settings { get; } =
        new Dictionary<string, string?> { ["CREW_RESPONSES_SEARCH_TIMEOUT_MS"] = "1" };

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await AddUsersAsync([(User, "context", "goal")]);
        await ExecuteAsync("""
            INSERT INTO crew_responses (user_uid, response_data)
            SELECT $1, jsonb_build_object('Questions', jsonb_build_array(jsonb_build_object(
                'Question 1', 'What now?', 'Answers', jsonb_build_array(repeat('keep going ', 40) || n, 'raise the price'))))
            FROM generate_series(1, 20000) AS n
            """, User);
        await ExecuteAsync("ANALYZE crew_responses");
    }
}

public sealed class SearchTimeoutTests(SlowSearchApp app) : IClassFixture<SlowSearchApp>
{
    private readonly HttpClient client = app.CreateClient();

    [Theory]
    [InlineData("jsonPath=" + "exists($.**%20%3F%20(%40%20like_regex%20%22(k%7Cg)%2Bz%22))")] // exists($.** ? (@ like_regex "(k|g)+z")): no index helps
    [InlineData("q=price")] // every row matches: the count reads them all
    public async Task A_search_that_runs_past_the_statement_timeout_answers_422_in_the_envelope(string search)
    {
        using var response = await client.GetAsync($"/api/crew-responses?userUid={SlowSearchApp.User}&includeTotal=true&{search}");
        var text = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, $"{(int)response.StatusCode}: {text}");
        using var body = JsonDocument.Parse(text);
        Assert.False(body.RootElement.GetProperty("success").GetBoolean());
        Assert.Equal(CrewResponsesApi.SearchTimedOut(1), body.RootElement.GetProperty("error").GetString());
        Assert.Equal("the search ran longer than 1 ms; narrow it with userUid, runId, startDate or endDate", CrewResponsesApi.SearchTimedOut(1));
    }

    [Fact]
    public async Task The_timeout_holds_only_for_searches_and_stays_with_their_transaction()
    {
        // Searches run out first, on every pooled connection a few requests use ...
        for (var i = 0; i < 4; i++)
        {
            using var search = await client.GetAsync($"/api/crew-responses?userUid={SlowSearchApp.User}&includeTotal=true&q=price");
            Assert.Equal(HttpStatusCode.UnprocessableEntity, search.StatusCode);
        }

        // ... then a list that counts all 20,000 rows, far longer than 1 ms, is not bounded by it.
        using var list = await client.GetAsync($"/api/crew-responses?userUid={SlowSearchApp.User}&includeTotal=true&limit=1");
        var text = await list.Content.ReadAsStringAsync();
        Assert.True(list.StatusCode == HttpStatusCode.OK, text);
        using var body = JsonDocument.Parse(text);
        Assert.Equal(20000, body.RootElement.GetProperty("total").GetInt64());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("600001")]
    public void A_bad_search_timeout_stops_the_service_at_startup_naming_the_setting(string value)
    {
        using var factory = new ServiceApp<Program>(app, new Dictionary<string, string?> { ["CREW_RESPONSES_SEARCH_TIMEOUT_MS"] = value });

        var error = Assert.Throws<OptionsValidationException>(() => factory.CreateClient());
        Assert.Contains("CREW_RESPONSES_SEARCH_TIMEOUT_MS must be a whole number from 1 to 600000", error.Message, StringComparison.Ordinal);
    }
}
