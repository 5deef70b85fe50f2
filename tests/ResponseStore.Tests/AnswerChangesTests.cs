using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CrewPlatform.Contracts;
using CrewPlatform.Testing;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CrewPlatform.ResponseStore.Tests;

/// <summary>
/// What changed since the user's previous answer on the same endpoint: stored by the consumer (through the test
/// harness) and by the POST, announced in <see cref="CrewResponseStored"/>, read through
/// <c>GET /api/crew-responses/{id}/changes</c> and the list's <c>changed</c> filter, on a real PostgreSQL database.
/// </summary>
public sealed class AnswerChangesTests(ResponseStoreApp app) : IClassFixture<ResponseStoreApp>
{
    private const string First = """{"Questions":[{"Question 1":"Price?","Answers":["Keep it","Watch rivals"]},{"Question 2":"Stock?","Answers":["Order more","In May"]}]}""";

    // The same answer written otherwise: other spacing, other key order.
    private const string SameAgain = """{ "Questions" : [ {"Answers":["Keep it","Watch rivals"], "Question 1":"Price?"}, {"Answers":["Order more","In May"],"Question 2":"Stock?"} ] }""";

    // One answer edited deep inside: Questions[1].Answers[0].
    private const string Edited = """{"Questions":[{"Question 1":"Price?","Answers":["Keep it","Watch rivals"]},{"Question 2":"Stock?","Answers":["Order less","In May"]}]}""";

    private static readonly CancellationToken SoFar = new(canceled: true);

    private readonly HttpClient client = app.CreateClient();

    private ITestHarness Harness => app.Factory.Services.GetRequiredService<ITestHarness>();

    [Fact]
    public async Task A_first_answer_has_nothing_to_compare_with()
    {
        var user = await app.AddNewUserAsync();

        var stored = await StoreAsync(user, First);

        Assert.Null(stored.Changed);
        Assert.Null(stored.PreviousResponseId);
        Assert.Null(stored.Changes);
        Assert.Equal(CrewEndpointNames.Default, stored.Endpoint);
        var changes = await ChangesAsync(stored.ResponseId);
        Assert.Equal(stored.ResponseId, changes.GetProperty("id").GetInt32());
        Assert.Equal(JsonValueKind.Null, changes.GetProperty("previousId").ValueKind);
        Assert.Equal(JsonValueKind.Null, changes.GetProperty("changed").ValueKind);
        Assert.Equal("""{"added":0,"removed":0,"modified":0}""", changes.GetProperty("summary").GetRawText());
        Assert.Empty(changes.GetProperty("changes").EnumerateArray());
    }

    [Fact]
    public async Task An_identical_answer_is_unchanged_however_it_is_written()
    {
        var user = await app.AddNewUserAsync();
        var first = await StoreAsync(user, First);

        var again = await StoreAsync(user, SameAgain);

        Assert.False(again.Changed);
        Assert.Equal(first.ResponseId, again.PreviousResponseId);
        Assert.Null(again.Changes);
        var changes = await ChangesAsync(again.ResponseId);
        Assert.Equal(first.ResponseId, changes.GetProperty("previousId").GetInt32());
        Assert.False(changes.GetProperty("changed").GetBoolean());
        Assert.Empty(changes.GetProperty("changes").EnumerateArray());
    }

    [Fact]
    public async Task An_answer_edited_deep_inside_names_the_pointer_with_the_old_and_new_values()
    {
        var user = await app.AddNewUserAsync();
        var first = await StoreAsync(user, First);
        await StoreAsync(user, SameAgain);

        var edited = await StoreAsync(user, Edited);

        Assert.True(edited.Changed);
        Assert.NotEqual(first.ResponseId, edited.PreviousResponseId); // the latest one, not the first
        Assert.Equal(
            Normalized(new AnswerChangeSummary { Added = 0, Removed = 0, Modified = 1, Paths = ["/Questions/1/Answers/0"] }).ToString(),
            Normalized(edited.Changes).ToString());
        var changes = await ChangesAsync(edited.ResponseId);
        Assert.True(changes.GetProperty("changed").GetBoolean());
        Assert.Equal("""{"added":0,"removed":0,"modified":1}""", changes.GetProperty("summary").GetRawText());
        Assert.Equal(
            """[{"op":"replace","path":"/Questions/1/Answers/0","from":"Order more","value":"Order less"}]""",
            changes.GetProperty("changes").GetRawText());
    }

    [Fact]
    public async Task Added_and_removed_answers_and_questions_are_named_in_document_order()
    {
        var user = await app.AddNewUserAsync();
        await StoreAsync(user, First);

        var grown = await StoreAsync(user, """{"Questions":[{"Question 1":"Price?","Answers":["Keep it","Watch rivals","Raise in June"]},{"Question 3":"Staff?","Answers":["Hire one"]}]}""");

        var changes = (await ChangesAsync(grown.ResponseId)).GetProperty("changes").EnumerateArray()
            .Select(c => $"{c.GetProperty("op").GetString()} {c.GetProperty("path").GetString()}").ToList();
        Assert.Equal(
            ["add /Questions/0/Answers/2", "replace /Questions/1/Answers/0", "remove /Questions/1/Answers/1", "remove /Questions/1/Question 2", "add /Questions/1/Question 3"],
            changes);
        Assert.Equal(2, grown.Changes!.Added);
        Assert.Equal(2, grown.Changes.Removed);
        Assert.Equal(1, grown.Changes.Modified);
    }

    [Fact]
    public async Task An_answer_on_another_endpoint_is_not_compared_with_the_default_endpoint_s()
    {
        var user = await app.AddNewUserAsync();
        var onDefault = await StoreAsync(user, First);

        var onPremium = await StoreAsync(user, Edited, "premium");
        var defaultAgain = await StoreAsync(user, SameAgain, CrewEndpointNames.Default);
        var premiumAgain = await StoreAsync(user, Edited, "premium");

        Assert.Equal("premium", onPremium.Endpoint);
        Assert.Null(onPremium.Changed);
        Assert.Null(onPremium.PreviousResponseId);
        Assert.False(defaultAgain.Changed);
        Assert.Equal(onDefault.ResponseId, defaultAgain.PreviousResponseId);
        Assert.False(premiumAgain.Changed);
        Assert.Equal(onPremium.ResponseId, premiumAgain.PreviousResponseId);
    }

    [Fact]
    public async Task An_answer_of_an_older_version_without_an_endpoint_counts_as_the_default_endpoint_s()
    {
        var user = await app.AddNewUserAsync();
        var old = await StoreAsync(user, First, endpoint: null);

        var now = await StoreAsync(user, Edited, CrewEndpointNames.Default);

        Assert.Equal(CrewEndpointNames.Default, old.Endpoint);
        Assert.Equal(old.ResponseId, now.PreviousResponseId);
        Assert.True(now.Changed);
    }

    [Fact]
    public async Task The_event_carries_the_answer_as_stored_and_its_size_and_not_an_answer_above_256_KB()
    {
        var user = await app.AddNewUserAsync();
        var small = await StoreAsync(user, """{"b":1,  "a":"ü"}""");
        var big = await StoreAsync(user, $$"""{"text":"{{new string('x', CrewResponseStored.AnswerInlineLimitBytes)}}"}""");

        Assert.Equal("""{"a": "ü", "b": 1}""", small.Answer); // jsonb's text, as GET answers it
        Assert.Equal(Encoding.UTF8.GetByteCount("""{"a": "ü", "b": 1}"""), small.AnswerBytes);
        Assert.Null(big.Answer);
        Assert.Equal(CrewResponseStored.AnswerInlineLimitBytes + """{"text": ""}""".Length, big.AnswerBytes);
        Assert.True(big.Changed);
        Assert.Equal(["/a", "/b", "/text"], Normalized(big.Changes).Paths); // jsonb's order: shorter keys first
    }

    [Fact]
    public async Task An_answer_of_exactly_256_KB_is_carried()
    {
        var user = await app.AddNewUserAsync();
        var json = $$"""{"text": "{{new string('x', CrewResponseStored.AnswerInlineLimitBytes - """{"text": ""}""".Length)}}"}""";

        var stored = await StoreAsync(user, json);

        Assert.Equal(CrewResponseStored.AnswerInlineLimitBytes, stored.AnswerBytes);
        Assert.Equal(json, stored.Answer);
    }

    [Fact]
    public async Task A_re_announced_answer_carries_what_it_was_first_announced_with()
    {
        var user = await app.AddNewUserAsync();
        await StoreAsync(user, First);
        var received = Received(user, Edited, CrewEndpointNames.Default);
        var first = await PublishAsync(received, count: 1);
        // A later answer of the user must not change what the re-announced one was compared with.
        await StoreAsync(user, First);

        // As after a crash between the insert and the publish.
        var again = await PublishAsync(received, count: 2);

        Assert.Equal(first.ResponseId, again.ResponseId);
        Assert.Equal(first.PreviousResponseId, again.PreviousResponseId);
        Assert.True(again.Changed);
        Assert.Equal(first.Endpoint, again.Endpoint);
        Assert.Equal(first.Answer, again.Answer);
        Assert.Equal(first.AnswerBytes, again.AnswerBytes);
        Assert.Equal(Normalized(first.Changes).ToString(), Normalized(again.Changes).ToString());
        Assert.Equal(["/Questions/1/Answers/0"], Normalized(again.Changes).Paths);
    }

    [Fact]
    public async Task Posted_answers_compare_with_the_user_s_previous_posted_answer_and_not_with_a_run_s()
    {
        var user = await app.AddNewUserAsync();
        var posted = await PostAsync(user, First);
        var fromRun = await StoreAsync(user, Edited);

        var postedAgain = await PostAsync(user, SameAgain);
        var postedEdited = await PostAsync(user, Edited);

        Assert.Null(fromRun.PreviousResponseId);
        var again = await ChangesAsync(postedAgain);
        Assert.Equal(posted, again.GetProperty("previousId").GetInt32());
        Assert.False(again.GetProperty("changed").GetBoolean());
        var edited = await ChangesAsync(postedEdited);
        Assert.Equal(postedAgain, edited.GetProperty("previousId").GetInt32());
        Assert.Equal("/Questions/1/Answers/0", Assert.Single(edited.GetProperty("changes").EnumerateArray()).GetProperty("path").GetString());
        Assert.Equal(JsonValueKind.Null, (await ChangesAsync(posted)).GetProperty("changed").ValueKind);
    }

    [Fact]
    public async Task An_answer_whose_previous_one_was_deleted_keeps_its_previous_id_and_says_its_changes_are_unknown()
    {
        var user = await app.AddNewUserAsync();
        var first = await StoreAsync(user, First);
        var edited = await StoreAsync(user, Edited);

        await app.ExecuteAsync("DELETE FROM crew_responses WHERE id = $1", first.ResponseId);

        var changes = await ChangesAsync(edited.ResponseId);
        Assert.Equal(first.ResponseId, changes.GetProperty("previousId").GetInt32());
        Assert.True(changes.GetProperty("changed").GetBoolean());
        Assert.Equal(JsonValueKind.Null, changes.GetProperty("summary").ValueKind);
        Assert.Equal(JsonValueKind.Null, changes.GetProperty("changes").ValueKind);
    }

    [Fact]
    public async Task The_list_filters_by_changed_with_every_other_filter_keyset_paging_and_its_total()
    {
        var user = await app.AddNewUserAsync();
        var other = await app.AddNewUserAsync();
        var first = await StoreAsync(user, """{"n":0}""");
        var changed = new List<int>();
        var unchanged = new List<int>();
        for (var n = 1; n <= 5; n++)
        {
            changed.Add((await StoreAsync(user, $$"""{"n":{{n}}}""")).ResponseId);
            unchanged.Add((await StoreAsync(user, $$"""{"n":{{n}}}""")).ResponseId);
        }

        await StoreAsync(other, """{"n":1}""");
        await StoreAsync(other, """{"n":2}""");
        changed.Reverse();
        unchanged.Reverse();

        var (page1, total, cursor) = await ListAsync($"userUid={user}&changed=true&limit=2&includeTotal=true");
        Assert.Equal(changed[..2], page1);
        Assert.Equal(5, total);
        var (page2, _, cursor2) = await ListAsync($"userUid={user}&changed=true&limit=2&after={cursor}");
        Assert.Equal(changed[2..4], page2);
        var (page3, _, cursor3) = await ListAsync($"userUid={user}&changed=true&limit=2&after={cursor2}");
        Assert.Equal(changed[4..], page3);
        Assert.Null(cursor3);
        Assert.Equal(unchanged, (await ListAsync($"userUid={user}&changed=false")).Ids);
        Assert.DoesNotContain(first.ResponseId, (await ListAsync($"userUid={user}&changed=true&limit=100")).Ids);
        Assert.Equal(changed, (await ListAsync($"userUid={user}&changed=true&endpoint=default&jsonPath=%24.n%20%3E%200")).Ids);
        Assert.Equal([changed[0]], (await ListAsync($"userUid={user}&changed=true&jsonPath=%24.n%20%3D%3D%205")).Ids);
    }

    [Theory]
    [InlineData("/api/crew-responses?changed=yes", HttpStatusCode.BadRequest, "changed must be true or false")]
    [InlineData("/api/crew-responses?changed=True", HttpStatusCode.BadRequest, "changed must be true or false")]
    [InlineData("/api/crew-responses?changed=true&changed=false", HttpStatusCode.BadRequest, "changed must be given at most once")]
    [InlineData("/api/crew-responses/abc/changes", HttpStatusCode.BadRequest, "Invalid ID")]
    [InlineData("/api/crew-responses/0/changes", HttpStatusCode.BadRequest, "Invalid ID")]
    [InlineData("/api/crew-responses/99999999999/changes", HttpStatusCode.BadRequest, "Invalid ID")]
    [InlineData("/api/crew-responses/2147483647/changes", HttpStatusCode.NotFound, "Crew response not found")]
    public async Task Bad_input_gets_the_envelope(string url, HttpStatusCode status, string error) =>
        await EnvelopeAssert.ErrorAsync(await client.GetAsync(url), status, error);

    private static CrewResponseReceived Received(string user, string json, string? endpoint) => new()
    {
        RunId = Guid.NewGuid(),
        UserUid = user,
        RequestContext = "ctx",
        RequestGoal = "goal",
        ResponseJson = json,
        Attempts = 1,
        DurationMs = 10,
        ReceivedAt = DateTimeOffset.UtcNow,
        Endpoint = endpoint,
    };

    /// <summary>Stores one answer of a run of its own and answers its announcement, once it is stored (so the next one follows it).</summary>
    private Task<CrewResponseStored> StoreAsync(string user, string json, string? endpoint = CrewEndpointNames.Default) =>
        PublishAsync(Received(user, json, endpoint), count: 1);

    private async Task<CrewResponseStored> PublishAsync(CrewResponseReceived received, int count)
    {
        await Harness.Bus.Publish(received);
        bool Announced(IPublishedMessage<CrewResponseStored> m) => m.Context.Message.RunId == received.RunId && m.Context.Message.UserUid == received.UserUid;
        await Eventually.HoldsAsync(
            () => Harness.Published.Select<CrewResponseStored>(SoFar).Count(Announced) >= count, $"announcement {count} of run {received.RunId}");
        return Harness.Published.Select<CrewResponseStored>(SoFar).Where(Announced).Select(m => m.Context.Message).ElementAt(count - 1);
    }

    private async Task<int> PostAsync(string user, string json)
    {
        var response = await client.PostAsync(
            "/api/crew-responses", new StringContent($$"""{"userUid":"{{user}}","responseData":{{json}}}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("id").GetInt32();
    }

    private async Task<JsonElement> ChangesAsync(int id)
    {
        var response = await client.GetAsync($"/api/crew-responses/{id}/changes");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(body.GetProperty("success").GetBoolean());
        return body.GetProperty("data");
    }

    private async Task<(List<int> Ids, long? Total, string? NextCursor)> ListAsync(string query)
    {
        var response = await client.GetAsync($"/api/crew-responses?{query}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (
            body.GetProperty("data").EnumerateArray().Select(i => i.GetProperty("id").GetInt32()).ToList(),
            body.TryGetProperty("total", out var total) ? total.GetInt64() : null,
            body.TryGetProperty("nextCursor", out var cursor) ? cursor.GetString() : null);
    }

    /// <summary>The summary with its paths as a list that prints, so two summaries compare as text.</summary>
    private static AnswerChangeSummary Normalized(AnswerChangeSummary? summary)
    {
        Assert.NotNull(summary);
        return summary with { Paths = new PrintedList(summary.Paths) };
    }

    private sealed class PrintedList(IEnumerable<string> items) : List<string>(items)
    {
        public override string ToString() => string.Join(",", this);
    }
}
