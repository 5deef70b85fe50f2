using System.Net.Http.Headers;
using Microsoft.AspNetCore.TestHost;
using Xunit.Abstractions;

namespace CrewPlatform.ApiFuzz;

/// <summary>
/// Walks every operation of each service's OpenAPI document with thousands of generated hostile requests (fixed seed)
/// and holds every answer to the contract: no 5xx, every 4xx in the error envelope, no internals in any body.
/// </summary>
public sealed class ApiFuzzTests(FuzzStack stack, ITestOutputHelper output) : IClassFixture<FuzzStack>
{
    [Fact]
    public async Task The_scheduler_answers_every_generated_request_without_a_server_error_or_a_bare_4xx()
    {
        var outcomes = await FuzzAsync("scheduler", stack.Scheduler.Server, minimumRequests: 1000);

        // skipUnchanged is fuzzed where it is read: hostile values of it and of its freshForMinutes reach its own refusal.
        var skipUnchanged = outcomes.Where(o => o.Request.Case.StartsWith("body skipUnchanged", StringComparison.Ordinal)).ToList();
        Assert.Contains(skipUnchanged, o => o.Request.Operation.Path == "/api/scheduler");
        Assert.Contains(skipUnchanged, o => o.Request.Operation.Path == "/api/scheduler/schedules");
        Assert.Contains(skipUnchanged, o => o.Body.Contains("skipUnchanged.freshForMinutes must be", StringComparison.Ordinal));
        Assert.Contains(skipUnchanged, o => o.Body.Contains("skipUnchanged must be an object", StringComparison.Ordinal));

        // cron and timeZone reached Cronos and the time-zone database: refused, and schedules given them.
        var calendar = outcomes.Where(o => o.Request.Case.EndsWith("as a calendar", StringComparison.Ordinal)).ToList();
        Assert.Contains(calendar, o => o.Status == 400 && o.Body.Contains("Invalid cron expression '", StringComparison.Ordinal));
        Assert.Contains(calendar, o => o.Status == 400 && o.Body.Contains("Unknown timeZone '", StringComparison.Ordinal));
        Assert.Contains(calendar, o => o.Status is >= 200 and < 300 && o.Body.Contains("\"cron\":\"0 6 * * 1-5\",\"timeZone\":\"Europe/Paris\"", StringComparison.Ordinal));

        // The pause's optional body is fuzzed field by field and reaches its own refusals.
        var pause = outcomes.Where(o => o.Request.Operation.Path == "/api/scheduler/schedules/{id}/pause").ToList();
        Assert.Contains(pause, o => o.Request.Case == "body note");
        Assert.Contains(pause, o => o.Request.Case == "body until" && o.Body.Contains("until must be", StringComparison.Ordinal));
        Assert.Contains(pause, o => o.Request.Case == "no body" && o.Status is 200 or 404);
    }

    /// <summary>The pause's optional body at its edges, through the gateway.</summary>
    [Theory]
    [InlineData("", 200, null)]
    [InlineData("{}", 200, null)]
    [InlineData("""{"note":"maintenance","until":"2999-01-01T00:00:00+02:00"}""", 200, null)]
    [InlineData("""{"until":"2000-01-01T00:00:00Z"}""", 400, "until must be in the future")]
    [InlineData("""{"until":"9999-12-31T23:59:59.9999999-14:00"}""", 400, "until must be an ISO 8601 date and time with an offset, e.g. 2027-01-04T06:00:00Z")]
    [InlineData("""{"until":"0001-01-01T00:00:00+14:00"}""", 400, "until must be an ISO 8601 date and time with an offset, e.g. 2027-01-04T06:00:00Z")]
    [InlineData("""{"note":"\ud800"}""", 400, "note must be a string of at most 500 characters (no U+0000, no unpaired surrogates)")]
    [InlineData("""{"note":null,"until":null}""", 200, null)]
    public async Task Pause_bodies_at_their_edges_answer_in_the_envelope_through_the_gateway(string json, int status, string? error)
    {
        await using var gateway = stack.Gateway(rateLimitPerMinute: 0);
        using var client = gateway.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", FuzzStack.Token);

        using var content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        using var response = await client.PostAsync("/api/scheduler/schedules/1/pause", content);
        var body = await response.Content.ReadAsStringAsync();

        Assert.True(status == (int)response.StatusCode, $"{json} answered {(int)response.StatusCode}: {body}");
        Assert.Null(FuzzRunner.Judge(status, body));
        using var answer = System.Text.Json.JsonDocument.Parse(body);
        Assert.Equal(error is null, answer.RootElement.GetProperty("success").GetBoolean());
        if (error is not null)
        {
            Assert.Equal(error, answer.RootElement.GetProperty("error").GetString());
        }
    }

    [Fact]
    public async Task The_response_store_answers_every_generated_request_without_a_server_error_or_a_bare_4xx()
    {
        await FuzzAsync("response-store", stack.ResponseStore.Server, minimumRequests: 1000);
    }

    [Fact]
    public async Task The_webhooks_service_answers_every_generated_request_without_a_server_error_or_a_bare_4xx()
    {
        var outcomes = await FuzzAsync("webhooks", stack.Webhooks.Server, minimumRequests: 1000);

        // The filter reached PostgreSQL's parser both ways: refused paths, and subscriptions created with one.
        Assert.Contains(outcomes, o => o.Request.Case == "body jsonPath" && o.Status == 400 && o.Body.Contains("jsonPath is not a valid SQL/JSON path: ", StringComparison.Ordinal));
        Assert.Contains(outcomes, o => o.Request.Case == "body jsonPath" && o.Status == 201);
        Assert.True(await stack.ScalarAsync<long>("SELECT count(*) FROM webhooks.subscriptions WHERE json_path IS NOT NULL AND include_answer") > 0);
    }

    /// <summary>The inputs that once answered 500, and the content search's edges, sent as a client sends them, through the gateway.</summary>
    [Theory]
    [InlineData("/api/crew-responses?userUid=%00", 400, "userUid must be at most 255 characters of text")]
    [InlineData("/api/crew-responses?userUid=a%00b", 400, "userUid must be at most 255 characters of text")]
    [InlineData("/api/crew-responses?endDate=9999-12-31", 200, null)]
    [InlineData("/api/crew-responses?endDate=9999-12-31T23:59:59.9999999Z", 200, null)]
    [InlineData("/api/crew-responses?endDate=10000-01-01", 400, "endDate must be an ISO-8601 date or date-time")]
    [InlineData("/api/crew-responses?jsonPath=%24%24", 400, "jsonPath is not a valid SQL/JSON path: syntax error at or near \"$\" of jsonpath input")]
    [InlineData("/api/crew-responses?jsonPath=%24.n%20%3E%3D%200&q=%22unterminated", 200, null)]
    [InlineData("/api/crew-responses?q=", 400, "q must not be empty")]
    [InlineData("/api/crew-responses?changed=maybe", 400, "changed must be true or false")]
    [InlineData("/api/crew-responses?changed=true&changed=true", 400, "changed must be given at most once")]
    [InlineData("/api/crew-responses?changed=true&includeTotal=true&limit=1&q=x&jsonPath=%24.n%20%3E%200", 200, null)]
    [InlineData("/api/crew-responses/abc/changes", 400, "Invalid ID")]
    [InlineData("/api/crew-responses/2147483647/changes", 404, "Crew response not found")]
    public async Task Date_and_text_edges_of_the_list_answer_in_the_envelope_through_the_gateway(string url, int status, string? error)
    {
        await using var gateway = stack.Gateway(rateLimitPerMinute: 0);
        using var client = gateway.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", FuzzStack.Token);

        using var response = await client.GetAsync(url);
        var body = await response.Content.ReadAsStringAsync();

        Assert.True(status == (int)response.StatusCode, $"{url} answered {(int)response.StatusCode}: {body}");
        Assert.Null(FuzzRunner.Judge(status, body));
        using var json = System.Text.Json.JsonDocument.Parse(body);
        Assert.Equal(error is null, json.RootElement.GetProperty("success").GetBoolean());
        if (error is not null)
        {
            Assert.Equal(error, json.RootElement.GetProperty("error").GetString());
        }
    }

    /// <summary>
    /// A sample of the same requests through the gateway (with the token), every whole-body case among them, plus what
    /// the gateway refuses itself: no or wrong token (401), unknown paths (404), too many requests (429).
    /// </summary>
    [Fact]
    public async Task The_gateway_answers_generated_requests_and_its_own_refusals_in_the_envelope()
    {
        await using var gateway = stack.Gateway(rateLimitPerMinute: 0);
        using var client = gateway.CreateClient();
        var operations = ApiOperations.Read(await client.GetStringAsync("/openapi/scheduler.json"))
            .Concat(ApiOperations.Read(await client.GetStringAsync("/openapi/crew-responses.json")))
            .Concat(ApiOperations.Read(await client.GetStringAsync("/openapi/webhooks.json")))
            .ToList();
        var generated = new FuzzRequestGenerator(stack.Valid, FuzzStack.Seed).Generate(operations);
        var sample = generated.Where((r, i) => i % 8 == 0 || r.Case.StartsWith("whole body", StringComparison.Ordinal)).ToList();

        var started = DateTime.UtcNow;
        var outcomes = await FuzzRunner.RunAsync(gateway.Server, sample, $"Bearer {FuzzStack.Token}");
        foreach (var authorization in new[] { null, "Bearer", "Bearer ", "Bearer wrong", $"Basic {FuzzStack.Token}", $"Bearer {FuzzStack.Token}\0", "Bearer \u0001", $"Bearer {new string('t', 100_000)}" })
        {
            outcomes.AddRange(await FuzzRunner.RunAsync(gateway.Server, operations.Select(o => generated.First(r => r.Operation == o)), authorization));
        }

        outcomes.AddRange(await FuzzRunner.RunAsync(gateway.Server, GatewayPaths().Select(path => new FuzzRequest(operations[0], "GET", path, null, null, "gateway path")), $"Bearer {FuzzStack.Token}"));

        await using (var limited = stack.Gateway(rateLimitPerMinute: 3))
        {
            var burst = Enumerable.Repeat(generated.First(r => r.Case == "all valid"), 10);
            outcomes.AddRange(await FuzzRunner.RunAsync(limited.Server, burst, $"Bearer {FuzzStack.Token}"));
        }

        outcomes.Add(await OverKestrelsBodyLimitAsync());

        var summary = Summarize("gateway", outcomes, started);
        Assert.Contains(outcomes, o => o.Status == 401);
        Assert.Contains(outcomes, o => o.Status == 404);
        Assert.Contains(outcomes, o => o.Status == 413);
        Assert.Contains(outcomes, o => o.Status == 429);
        Assert.True(outcomes.Count >= 300, $"only {outcomes.Count} requests through the gateway");
        Assert.True(outcomes.All(o => o.Problem is null), summary + Environment.NewLine + FuzzRunner.Offenders(outcomes));
    }

    /// <summary>
    /// A body over Kestrel's limit (30 MB) refused by the gateway itself while it proxies: only a real Kestrel applies that
    /// limit. Announced with <c>Expect: 100-continue</c>, so the refusal comes before the client has sent the body.
    /// </summary>
    private async Task<FuzzOutcome> OverKestrelsBodyLimitAsync()
    {
        await using var gateway = stack.Gateway(rateLimitPerMinute: 0);
        // Its public address; the factory's own client would take the last one, the management port's.
        using var client = new HttpClient { BaseAddress = gateway.StartOnKestrel() };
        var body = new byte[31 * 1024 * 1024];
        Array.Fill(body, (byte)' ');
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/scheduler") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", FuzzStack.Token);
        request.Headers.ExpectContinue = true;

        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var status = (int)response.StatusCode;
        var fuzzRequest = new FuzzRequest(new ApiOperation("POST", "/api/scheduler", [], [], []), "POST", "/api/scheduler", body, "application/json", "over Kestrel's body limit");
        return new FuzzOutcome(fuzzRequest, status, text, FuzzRunner.Judge(status, text) ?? (status == 413 ? null : "expected 413"));
    }

    /// <summary>Paths only the gateway decides about: no route, traversal out of a route, odd encodings of /api.</summary>
    private static string[] GatewayPaths() =>
    [
        "/api", "/api/", "/api/unknown", "/api/scheduler2", "/api/crew-responses-x/1", "/api/%2e%2e/scheduler", "/api/scheduler/..%2f..%2fcrew-responses",
        "/api/crew-responses/..%2f..%2fscheduler", "/API/SCHEDULER", "/api//scheduler", "/api/%00", "/api/%zz", "/api/%c0%af", "/", "/unknown",
        "/health/unknown", "/openapi/unknown.json", "/openapi/v1.json", "/docs/..%2f..%2fetc%2fpasswd", "/%2e%2e/%2e%2e/etc/passwd",
        "/api/" + new string('a', HostileInput.LongTextLength), "/api/scheduler/runs/" + new string('1', 10_000),
    ];

    private string Summarize(string target, List<FuzzOutcome> outcomes, DateTime started)
    {
        var summary = FuzzRunner.Summary(target, outcomes, FuzzStack.Seed) + $" in {(DateTime.UtcNow - started).TotalSeconds:0.0}s";
        output.WriteLine(summary);
        stack.Report(summary);
        return summary;
    }

    private async Task<List<FuzzOutcome>> FuzzAsync(string target, TestServer server, int minimumRequests)
    {
        using var client = server.CreateClient();
        var operations = ApiOperations.Read(await client.GetStringAsync("/openapi/v1.json"));
        var requests = new FuzzRequestGenerator(stack.Valid, FuzzStack.Seed).Generate(operations);
        var started = DateTime.UtcNow;
        var outcomes = await FuzzRunner.RunAsync(server, requests);

        var summary = Summarize(target, outcomes, started);
        output.WriteLine("operations: " + string.Join(", ", operations));

        Assert.True(outcomes.Count >= minimumRequests, $"only {outcomes.Count} requests generated for {target}");
        Assert.True(outcomes.All(o => o.Problem is null), summary + Environment.NewLine + FuzzRunner.Offenders(outcomes));
        return outcomes;
    }
}
