using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.FakeCrewApi;

namespace CrewPlatform.CrewCaller.Tests.FakeCrew;

/// <summary>The fake crew API over HTTP: the contract's shape, determinism, its knobs and its admin surface.</summary>
public sealed class FakeCrewApiTests
{
    private static readonly object Bakery = new { customer_business_background_latest = "A bakery", customer_goal_latest = (string?)null };

    [Fact]
    public async Task It_answers_the_crew_shape_and_the_same_input_always_gets_the_same_answer()
    {
        await using var fake = await FakeCrewApiHost.StartAsync();
        using var http = new HttpClient();

        var first = await http.PostAsJsonAsync(fake.RunCrewUrl, Bakery);
        var second = await (await http.PostAsJsonAsync(fake.RunCrewUrl, Bakery)).Content.ReadAsStringAsync();
        var other = await (await http.PostAsJsonAsync(fake.RunCrewUrl, new { customer_business_background_latest = "A garage", customer_goal_latest = "Grow" })).Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var body = await first.Content.ReadAsStringAsync();
        Assert.Equal(body, second);
        Assert.NotEqual(body, other);
        var questions = JsonDocument.Parse(body).RootElement.GetProperty("Questions");
        Assert.InRange(questions.GetArrayLength(), 3, 5);
        Assert.True(questions[0].TryGetProperty("Question 1", out _));
        Assert.True(questions[0].GetProperty("Answers").GetArrayLength() >= 2);
        Assert.False(JsonDocument.Parse(body).RootElement.TryGetProperty("usage", out _), "an unpriced fake reports no usage");
    }

    [Fact]
    public async Task A_configured_cost_per_answer_is_each_answers_usage_total_cost_changeable_at_run_time_and_never_negative()
    {
        await using var fake = await FakeCrewApiHost.StartAsync(new Dictionary<string, string?> { ["FakeCrew:CostPerAnswer"] = "0.02" });
        using var http = new HttpClient { BaseAddress = fake.BaseUrl };

        async Task<JsonElement> AnswerAsync()
        {
            using var response = await http.PostAsJsonAsync("run-crew", Bakery);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        }

        var configured = await AnswerAsync();
        Assert.Equal(0.02m, configured.GetProperty("usage").GetProperty("total_cost").GetDecimal());
        Assert.InRange(configured.GetProperty("Questions").GetArrayLength(), 3, 5);

        var changed = await http.PutAsJsonAsync("admin/behaviour", new { costPerAnswer = 1.25 });
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.Equal(1.25m, (await AnswerAsync()).GetProperty("usage").GetProperty("total_cost").GetDecimal());

        var negative = await http.PutAsJsonAsync("admin/behaviour", new { costPerAnswer = -0.01 });
        Assert.Equal(HttpStatusCode.BadRequest, negative.StatusCode);
        Assert.Contains("CostPerAnswer must not be negative", await negative.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(1.25m, (await AnswerAsync()).GetProperty("usage").GetProperty("total_cost").GetDecimal());

        (await http.PostAsync("admin/reset", null)).EnsureSuccessStatusCode();
        Assert.Equal(0.02m, (await AnswerAsync()).GetProperty("usage").GetProperty("total_cost").GetDecimal());
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            FakeCrewApiHost.StartAsync(new Dictionary<string, string?> { ["FakeCrew:CostPerAnswer"] = "-1" }));
    }

    [Fact]
    public async Task Calls_lists_a_call_with_its_start_time_while_it_is_still_held()
    {
        await using var fake = await FakeCrewApiHost.StartAsync();
        using var http = new HttpClient { BaseAddress = fake.BaseUrl };
        (await http.PostAsJsonAsync("admin/script", new { steps = new[] { "hold" } })).EnsureSuccessStatusCode();

        var before = DateTimeOffset.UtcNow;
        var held = http.PostAsJsonAsync("run-crew", Bakery);
        await CrewPlatform.Testing.Eventually.HoldsAsync(() => fake.State.Stats().InFlight == 1, "the held call arrived");
        var listed = Assert.Single((await http.GetFromJsonAsync<List<ReceivedCall>>("calls"))!);
        var unanswered = DateTimeOffset.UtcNow;
        Assert.False(held.IsCompleted, "the call answered before it was listed");
        Assert.InRange(listed.ReceivedAt, before, unanswered);

        (await http.PostAsync("admin/release", null)).EnsureSuccessStatusCode();
        using var answered = await held.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(listed.ReceivedAt, Assert.Single((await http.GetFromJsonAsync<List<ReceivedCall>>("calls"))!).ReceivedAt);
    }

    [Fact]
    public async Task Calls_keeps_every_one_of_more_than_a_thousand_calls()
    {
        await using var fake = await FakeCrewApiHost.StartAsync();
        using var http = new HttpClient { BaseAddress = fake.BaseUrl };
        const int Made = 1_100;

        await Parallel.ForAsync(0, Made, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (_, cancellationToken) =>
        {
            using var response = await http.PostAsJsonAsync("run-crew", Bakery, cancellationToken);
            response.EnsureSuccessStatusCode();
        });

        var calls = (await http.GetFromJsonAsync<List<ReceivedCall>>("calls"))!;
        Assert.Equal(Enumerable.Range(1, Made), calls.Select(c => c.Number).Order());
    }

    [Fact]
    public async Task A_body_without_the_two_fields_is_refused_with_422()
    {
        await using var fake = await FakeCrewApiHost.StartAsync();
        using var http = new HttpClient();

        var response = await http.PostAsJsonAsync(fake.RunCrewUrl, new { customer_goal_latest = "Grow" });

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
    }

    [Fact]
    public async Task Configured_rates_apply_and_a_429_carries_the_configured_Retry_After()
    {
        await using var fake = await FakeCrewApiHost.StartAsync(new Dictionary<string, string?>
        {
            ["FakeCrew:RateLimitRate"] = "1",
            ["FakeCrew:RetryAfterSeconds"] = "7",
        });
        using var http = new HttpClient();

        var response = await http.PostAsJsonAsync(fake.RunCrewUrl, Bakery);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task Scripted_steps_answer_the_next_calls_in_order_and_stats_count_them()
    {
        await using var fake = await FakeCrewApiHost.StartAsync();
        using var http = new HttpClient { BaseAddress = fake.BaseUrl };

        (await http.PostAsJsonAsync("admin/script", new { steps = new[] { "503", "non-json" } })).EnsureSuccessStatusCode();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            statuses.Add((await http.PostAsJsonAsync("run-crew", Bakery)).StatusCode);
        }

        Assert.Equal([HttpStatusCode.ServiceUnavailable, HttpStatusCode.OK, HttpStatusCode.OK], statuses);
        var stats = await http.GetFromJsonAsync<FakeCrewStats>("stats");
        Assert.Equal(3, stats!.Received);
        Assert.Equal(0, stats.InFlight);
        Assert.Equal(1, stats.PeakInFlight);
        Assert.Equal(new Dictionary<string, int> { ["200"] = 2, ["503"] = 1 }, stats.AnsweredByStatus);
        var calls = await http.GetFromJsonAsync<List<ReceivedCall>>("calls");
        Assert.Equal(["503", "non-json", "ok"], calls!.Select(c => c.Plan));
    }

    [Fact]
    public async Task A_users_own_plan_answers_its_calls_whatever_the_script_and_a_reset_drops_the_connection()
    {
        await using var fake = await FakeCrewApiHost.StartAsync();
        using var http = new HttpClient { BaseAddress = fake.BaseUrl };

        (await http.PostAsJsonAsync("admin/users", new
        {
            users = new Dictionary<string, object>
            {
                ["u-once"] = new { steps = new[] { "429" } },
                ["u-always"] = new { then = "500" },
                ["u-reset"] = new { then = "reset" },
            },
        })).EnsureSuccessStatusCode();
        (await http.PostAsJsonAsync("admin/script", new { steps = new[] { "503" } })).EnsureSuccessStatusCode();

        async Task<HttpStatusCode> CallAsync(string uid)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "run-crew") { Content = JsonContent.Create(Bakery) };
            request.Headers.Add("Idempotency-Key", $"{Guid.NewGuid()}:{uid}");
            using var response = await http.SendAsync(request);
            return response.StatusCode;
        }

        Assert.Equal(
            [HttpStatusCode.TooManyRequests, HttpStatusCode.OK, HttpStatusCode.InternalServerError, HttpStatusCode.InternalServerError],
            [await CallAsync("u-once"), await CallAsync("u-once"), await CallAsync("u-always"), await CallAsync("u-always")]);
        await Assert.ThrowsAsync<HttpRequestException>(() => CallAsync("u-reset"));

        // Users without a plan still take the script, then the rates.
        Assert.Equal([HttpStatusCode.ServiceUnavailable, HttpStatusCode.OK], [await CallAsync("u-other"), await CallAsync("u-other")]);
        var refused = await http.PostAsJsonAsync("admin/users", new { users = new Dictionary<string, object> { ["u"] = new { then = "maybe" } } });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
    }

    [Fact]
    public async Task A_held_call_answers_only_once_released()
    {
        await using var fake = await FakeCrewApiHost.StartAsync();
        using var http = new HttpClient { BaseAddress = fake.BaseUrl };

        (await http.PostAsJsonAsync("admin/script", new { steps = new[] { "hold" } })).EnsureSuccessStatusCode();
        var held = http.PostAsJsonAsync("run-crew", Bakery);
        await CrewPlatform.Testing.Eventually.HoldsAsync(() => fake.State.Stats().InFlight == 1, "the held call arrived");
        Assert.False(held.IsCompleted, "a held call answered before its release");

        (await http.PostAsync("admin/release", null)).EnsureSuccessStatusCode();
        using var answered = await held.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        Assert.Equal(["hold"], (await http.GetFromJsonAsync<List<ReceivedCall>>("calls"))!.Select(c => c.Plan));
    }

    [Fact]
    public async Task Behaviour_changes_at_run_time_are_validated_and_reset_restores_the_configured_one()
    {
        await using var fake = await FakeCrewApiHost.StartAsync();
        using var http = new HttpClient { BaseAddress = fake.BaseUrl };

        var invalid = await http.PutAsJsonAsync("admin/behaviour", new { failureRate = 1.5 });
        var valid = await http.PutAsJsonAsync("admin/behaviour", new { failureRate = 1.0 });
        var failing = await http.PostAsJsonAsync("run-crew", Bakery);
        (await http.PostAsync("admin/reset", null)).EnsureSuccessStatusCode();
        var healthy = await http.PostAsJsonAsync("run-crew", Bakery);

        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Contains("FailureRate must be between 0 and 1", await invalid.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, valid.StatusCode);
        Assert.Equal(HttpStatusCode.InternalServerError, failing.StatusCode);
        Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
        Assert.Equal(1, (await http.GetFromJsonAsync<FakeCrewStats>("stats"))!.Received);
    }

    [Fact]
    public async Task Invalid_configured_rates_stop_the_fake_at_startup()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            FakeCrewApiHost.StartAsync(new Dictionary<string, string?> { ["FakeCrew:HangRate"] = "0.7", ["FakeCrew:FailureRate"] = "0.7" }));

        Assert.Contains("must not exceed 1", error.Message, StringComparison.Ordinal);
    }
}
