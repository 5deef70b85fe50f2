using System.Text.Json;
using CrewPlatform.Contracts;
using CrewPlatform.Testing;
using MassTransit;

namespace CrewPlatform.Webhooks.Tests;

/// <summary>
/// Acting on answers over the real broker and PostgreSQL: <c>crew-response.changed</c>, subscriptions filtered by a
/// <c>jsonPath</c> (evaluated by PostgreSQL in the enqueue's statement) and carrying the answer (<c>includeAnswer</c>).
/// </summary>
public sealed class AnswerWebhookTests : IAsyncLifetime
{
    private const string PricePath = """exists($.Questions[*] ? (@.Answers[*] like_regex "price" flag "i"))""";

    private readonly WebhooksService service = new();
    private readonly List<WebhookReceiver> receivers = [];

    public Task InitializeAsync() => service.InitializeAsync();

    public async Task DisposeAsync()
    {
        foreach (var receiver in receivers)
        {
            await receiver.DisposeAsync();
        }

        await service.DisposeAsync();
    }

    private async Task<WebhookReceiver> ReceiverAsync()
    {
        var receiver = await WebhookReceiver.StartAsync();
        receivers.Add(receiver);
        return receiver;
    }

    /// <summary>An answer of the crew's usual shape.</summary>
    private static string CrewAnswer(string answer) =>
        JsonSerializer.Serialize(new { Questions = new[] { new Dictionary<string, object> { ["Question 1"] = "What next?", ["Answers"] = new[] { answer } } } });

    private static CrewResponseStored Stored(int responseId, string? answer, bool? changed = null) => new()
    {
        RunId = Guid.NewGuid(),
        UserUid = $"u-{responseId}",
        ResponseId = responseId,
        StoredAt = DateTimeOffset.UtcNow,
        Cost = 0.02m,
        DurationMs = 1500,
        Endpoint = "default",
        Changed = changed,
        PreviousResponseId = changed is null ? null : responseId - 1000,
        Changes = changed == true
            ? new AnswerChangeSummary { Added = 1, Removed = 0, Modified = 2, Paths = ["/Questions/0/Answers/0", "/Questions/0/Answers/1", "/Questions/1"] }
            : null,
        Answer = answer,
        AnswerBytes = answer is null ? null : System.Text.Encoding.UTF8.GetByteCount(answer),
    };

    private static List<JsonElement> Bodies(WebhookReceiver receiver) =>
        receiver.Received.Where(r => r.SignatureValid).Select(r => JsonDocument.Parse(r.Body).RootElement.Clone()).ToList();

    private static List<(string Type, int ResponseId)> Events(WebhookReceiver receiver) =>
        Bodies(receiver)
            .Select(b => (b.GetProperty("type").GetString()!, b.GetProperty("data").GetProperty("responseId").GetInt32()))
            .Distinct()
            .OrderBy(e => e.Item2).ThenBy(e => e.Item1, StringComparer.Ordinal)
            .ToList();

    [Fact]
    public async Task Changed_is_sent_only_for_an_answer_that_changed_once_however_often_it_is_announced()
    {
        var receiver = await ReceiverAsync();
        var subscription = await service.SubscribeAsync(receiver, "crew-response.stored", "crew-response.changed");
        var changed = Stored(1, CrewAnswer("Raise the price"), changed: true);

        await service.Bus.Publish(changed);
        await service.Bus.Publish(changed); // a redelivery adds nothing
        await service.Bus.Publish(Stored(2, CrewAnswer("Same as before"), changed: false));
        await service.Bus.Publish(Stored(3, CrewAnswer("The first answer"), changed: null));

        await Eventually.HoldsAsync(() => receiver.Processed.Count == 4, "three stored and one changed webhook were processed");
        Assert.Equal(
            [("crew-response.changed", 1), ("crew-response.stored", 1), ("crew-response.stored", 2), ("crew-response.stored", 3)],
            Events(receiver));
        Assert.Equal(4, await service.ScalarAsync<long>("SELECT count(*) FROM webhooks.deliveries WHERE subscription_id = $1", subscription));
        Assert.Equal(
            1,
            await service.ScalarAsync<long>("SELECT count(*) FROM webhooks.deliveries WHERE event_id = 'crew-response.changed:1'"));

        var data = Bodies(receiver).First(b => b.GetProperty("type").GetString() == "crew-response.changed").GetProperty("data");
        Assert.True(data.GetProperty("changed").GetBoolean());
        Assert.Equal(-999, data.GetProperty("previousResponseId").GetInt32());
        Assert.Equal("default", data.GetProperty("endpoint").GetString());
        Assert.Equal("/api/crew-responses/1", data.GetProperty("answerUrl").GetString());
        var changes = data.GetProperty("changes");
        Assert.Equal((1, 0, 2), (changes.GetProperty("added").GetInt32(), changes.GetProperty("removed").GetInt32(), changes.GetProperty("modified").GetInt32()));
        Assert.Equal(["/Questions/0/Answers/0", "/Questions/0/Answers/1", "/Questions/1"], changes.GetProperty("paths").EnumerateArray().Select(p => p.GetString()));
        Assert.False(data.TryGetProperty("answer", out _)); // not asked for
        Assert.All(
            Bodies(receiver).Where(b => b.GetProperty("type").GetString() == "crew-response.stored"),
            b => Assert.False(b.GetProperty("data").TryGetProperty("changes", out _)));
    }

    [Fact]
    public async Task The_stored_payload_keeps_its_fields_and_adds_the_endpoint_the_comparison_and_the_link()
    {
        var receiver = await ReceiverAsync();
        await service.SubscribeAsync(receiver, "crew-response.stored");
        var stored = Stored(77, CrewAnswer("Sell more"), changed: false);

        await service.Bus.Publish(stored);

        await Eventually.HoldsAsync(() => receiver.Processed.Count == 1, "the stored webhook was processed");
        var body = Assert.Single(Bodies(receiver));
        Assert.Equal(["type", "timestamp", "data"], body.EnumerateObject().Select(p => p.Name));
        var data = body.GetProperty("data");
        Assert.Equal(
            ["runId", "userUid", "responseId", "storedAt", "cost", "durationMs", "endpoint", "changed", "previousResponseId", "answerUrl", "answerBytes"],
            data.EnumerateObject().Select(p => p.Name));
        Assert.Equal(stored.RunId, data.GetProperty("runId").GetGuid());
        Assert.Equal("u-77", data.GetProperty("userUid").GetString());
        Assert.Equal(77, data.GetProperty("responseId").GetInt32());
        Assert.Equal(stored.StoredAt, data.GetProperty("storedAt").GetDateTimeOffset());
        Assert.Equal(0.02m, data.GetProperty("cost").GetDecimal());
        Assert.Equal(1500, data.GetProperty("durationMs").GetInt64());
        Assert.False(data.GetProperty("changed").GetBoolean());
        Assert.Equal(-923, data.GetProperty("previousResponseId").GetInt32());
        Assert.Equal("/api/crew-responses/77", data.GetProperty("answerUrl").GetString());
        Assert.Equal(stored.AnswerBytes, data.GetProperty("answerBytes").GetInt32());
    }

    [Fact]
    public async Task A_subscription_with_a_json_path_gets_the_matching_answers_only_stored_and_changed()
    {
        var everything = await ReceiverAsync();
        var prices = await ReceiverAsync();
        var dates = await ReceiverAsync();
        await service.SubscribeAsync(everything, "crew-response.stored");
        await service.SubscribeAsync(prices, new { events = new[] { "crew-response.stored", "crew-response.changed" }, jsonPath = PricePath });
        // Fails on an answer whose `when` is a date without a time zone: that answer does not match, and fails nothing else.
        await service.SubscribeAsync(dates, new { events = new[] { "crew-response.stored" }, jsonPath = """$.when.datetime() < "2024-06-01T00:00:00+00:00".datetime()""" });

        await service.Bus.PublishBatch(new[]
        {
            Stored(1, CrewAnswer("Raise the PRICE by 5%"), changed: true),
            Stored(2, CrewAnswer("Open a second shop"), changed: true),
            Stored(3, CrewAnswer("Keep the price"), changed: false),
            Stored(4, """{"when":"2024-01-01T00:00:00+00:00"}"""),
            Stored(5, """{"when":"2024-01-01"}"""),
            Stored(6, """{"when":"2025-01-01T00:00:00+00:00"}"""),
            Stored(7, CrewAnswer("Raise the price\0")), // "\u0000": JSON that PostgreSQL cannot read, so no match
            Stored(8, """[1, "price", {"Questions": 7}]"""),
        });

        await Eventually.HoldsAsync(() => everything.Processed.Count == 8, "every stored answer reached the unfiltered subscription");
        await Eventually.HoldsAsync(() => prices.Processed.Count == 3 && dates.Processed.Count == 1, "the matching answers reached the filtered ones");
        Assert.Equal([("crew-response.changed", 1), ("crew-response.stored", 1), ("crew-response.stored", 3)], Events(prices));
        Assert.Equal([("crew-response.stored", 4)], Events(dates));
        Assert.Equal(8 + 3 + 1, await service.ScalarAsync<long>("SELECT count(*) FROM webhooks.deliveries"));
        Assert.All(Bodies(prices).Concat(Bodies(dates)), b => Assert.False(b.GetProperty("data").TryGetProperty("filter", out _)));
    }

    [Fact]
    public async Task Include_answer_carries_the_answer_and_an_event_without_it_carries_the_link_and_is_marked_not_evaluated_when_filtered()
    {
        var withAnswer = await ReceiverAsync();
        var filtered = await ReceiverAsync();
        await service.SubscribeAsync(withAnswer, new { events = new[] { "crew-response.stored", "crew-response.changed" }, includeAnswer = true });
        await service.SubscribeAsync(filtered, new { events = new[] { "crew-response.stored" }, jsonPath = PricePath, includeAnswer = true });
        var answer = CrewAnswer("Raise the price, café owners say ☕");
        var large = Stored(2, answer: null, changed: true) with { AnswerBytes = CrewResponseStored.AnswerInlineLimitBytes + 1 };
        var older = new CrewResponseStored { RunId = Guid.NewGuid(), UserUid = "u-3", ResponseId = 3, StoredAt = DateTimeOffset.UtcNow };

        await service.Bus.PublishBatch(new[] { Stored(1, answer, changed: true), large, older });

        await Eventually.HoldsAsync(() => withAnswer.Processed.Count == 5, "three stored and two changed webhooks reached includeAnswer");
        await Eventually.HoldsAsync(() => filtered.Processed.Count == 3, "the match and the two answers it could not evaluate reached the filtered one");

        var carried = Bodies(withAnswer).Where(b => b.GetProperty("data").GetProperty("responseId").GetInt32() == 1).ToList();
        Assert.Equal(2, carried.Count);
        Assert.All(carried, b =>
        {
            var data = b.GetProperty("data");
            Assert.Equal(JsonValueKind.Object, data.GetProperty("answer").ValueKind);
            Assert.True(JsonElement.DeepEquals(JsonDocument.Parse(answer).RootElement, data.GetProperty("answer")));
            Assert.Equal("/api/crew-responses/1", data.GetProperty("answerUrl").GetString());
            Assert.False(data.TryGetProperty("filter", out _));
        });
        Assert.All(Bodies(withAnswer).Where(b => b.GetProperty("data").GetProperty("responseId").GetInt32() != 1), b =>
        {
            var data = b.GetProperty("data");
            Assert.False(data.TryGetProperty("answer", out _));
            Assert.False(data.TryGetProperty("filter", out _)); // no filter to evaluate
            Assert.StartsWith("/api/crew-responses/", data.GetProperty("answerUrl").GetString(), StringComparison.Ordinal);
        });

        var marked = Bodies(filtered).ToDictionary(b => b.GetProperty("data").GetProperty("responseId").GetInt32(), b => b.GetProperty("data"));
        Assert.Equal([1, 2, 3], marked.Keys.Order());
        Assert.False(marked[1].TryGetProperty("filter", out _));
        Assert.Equal(JsonValueKind.Object, marked[1].GetProperty("answer").ValueKind);
        foreach (var id in new[] { 2, 3 })
        {
            Assert.Equal("not-evaluated", marked[id].GetProperty("filter").GetString());
            Assert.False(marked[id].TryGetProperty("answer", out _));
            Assert.Equal($"/api/crew-responses/{id}", marked[id].GetProperty("answerUrl").GetString());
        }

        Assert.Equal(CrewResponseStored.AnswerInlineLimitBytes + 1, marked[2].GetProperty("answerBytes").GetInt32());
        Assert.Equal(JsonValueKind.Null, marked[3].GetProperty("endpoint").ValueKind); // an older message's
        Assert.Equal(JsonValueKind.Null, marked[3].GetProperty("changed").ValueKind);
    }
}
