using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace CrewPlatform.EndToEnd;

/// <summary>Every bad input of the ResponseStore, Scheduler and Webhooks APIs, through the gateway: a 4xx in the envelope, never a 500.</summary>
[Collection(LocalStackCollection.Name)]
public sealed class BadInputTests(LocalStack stack)
{
    /// <summary>method, path, body (null = none), expected status, expected error (null = any non-empty message).</summary>
    public static TheoryData<string, string, string?, int, string?> BadRequests => new()
    {
        // /api/crew-responses: query strings
        { "GET", "/api/crew-responses?limit=abc", null, 400, null },
        { "GET", "/api/crew-responses?limit=-1", null, 400, null },
        { "GET", "/api/crew-responses?limit=1001", null, 400, null },
        { "GET", "/api/crew-responses?offset=-5", null, 400, null },
        { "GET", "/api/crew-responses?offset=x", null, 400, null },
        { "GET", "/api/crew-responses?startDate=not-a-date", null, 400, null },
        { "GET", "/api/crew-responses?endDate=2026-13-45", null, 400, null },
        { "GET", "/api/crew-responses?startDate=2026-02-01&endDate=2026-01-01", null, 400, null },
        { "GET", "/api/crew-responses?endDate=10000-01-01", null, 400, "endDate must be an ISO-8601 date or date-time" },
        { "GET", "/api/crew-responses?userUid=%00", null, 400, "userUid must be at most 255 characters of text" },
        // /api/crew-responses: bodies
        { "POST", "/api/crew-responses", "this is not json", 400, null },
        { "POST", "/api/crew-responses", "{}", 400, "userUid and responseData are required" },
        { "POST", "/api/crew-responses", """{"userUid":"e2e-user-001"}""", 400, "userUid and responseData are required" },
        { "POST", "/api/crew-responses", """{"responseData":{"a":1}}""", 400, "userUid and responseData are required" },
        { "POST", "/api/crew-responses", """{"userUid":"e2e-user-001","responseData":5}""", 400, null },
        { "POST", "/api/crew-responses", """{"userUid":"nobody-has-this-uid","responseData":{"a":1}}""", 422, "User does not exist" },
        { "POST", "/api/crew-responses", """{"userUid":"e2e-user-001","responseData":{"a":1},"id":7}""", 400, "Unknown field 'id': a crew response takes userUid, requestContext, requestGoal, responseData, cost" },
        { "POST", "/api/scheduler", """{"action":"run-now","dryrun":true}""", 400, "Unknown field 'dryrun': run-now takes action, scheduleId, segment, endpoint, priority, userUids, dryRun, maxCallsPerRun, maxSpendPerRun, maxSpendPerDay, skipUnchanged" },
        { "POST", "/api/scheduler", """{"action":"run-now","maxSpendPerRun":-1}""", 400, "maxSpendPerRun must be a number of 0 or more" },
        { "POST", "/api/scheduler", """{"action":"run-now","maxCallsPerRun":"ten"}""", 400, "maxCallsPerRun must be a whole number of 1 or more" },
        // /api/crew-responses/{id}
        { "GET", "/api/crew-responses/abc", null, 400, "Invalid ID" },
        { "GET", "/api/crew-responses/0", null, 400, "Invalid ID" },
        { "GET", "/api/crew-responses/-3", null, 400, "Invalid ID" },
        { "GET", "/api/crew-responses/2147483647", null, 404, "Crew response not found" },
        { "DELETE", "/api/crew-responses/abc", null, 400, "Invalid ID" },
        { "DELETE", "/api/crew-responses/2147483647", null, 404, "Crew response not found" },
        // /api/scheduler
        { "POST", "/api/scheduler", "{not json", 400, null },
        { "POST", "/api/scheduler", "{}", 400, "Action is required. Valid actions: start, stop, run-now" },
        { "POST", "/api/scheduler", """{"action":"fly"}""", 400, "Invalid action. Valid actions: start, stop, run-now" },
        { "POST", "/api/scheduler", """{"action":"start"}""", 400, "intervalMinutes is required and must be greater than 0" },
        { "POST", "/api/scheduler", """{"action":"start","intervalMinutes":0}""", 400, "intervalMinutes is required and must be greater than 0" },
        { "POST", "/api/scheduler", """{"action":"start","intervalMinutes":-7}""", 400, "intervalMinutes is required and must be greater than 0" },
        { "POST", "/api/scheduler", """{"action":"start","intervalMinutes":7.5}""", 400, null },
        { "POST", "/api/scheduler", """{"action":"start","intervalMinutes":"7"}""", 400, null },
        { "POST", "/api/scheduler", """{"action":"start","intervalMinutes":10081}""", 400, null },
        { "GET", "/api/scheduler/runs?limit=abc", null, 400, null },
        { "GET", "/api/scheduler/runs?offset=-1", null, 400, null },
        { "GET", "/api/scheduler/runs/not-a-guid", null, 400, null },
        { "GET", "/api/scheduler/runs/6f1c1f7e-3f53-4a43-9d3c-4a1c7e0b9f00", null, 404, null },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Bad_input_gets_its_4xx_in_the_error_envelope_through_the_gateway(string method, string path, string? body, int status, string? error)
    {
        var (message, text) = await RefusalAsync(method, path, body, status);
        Assert.False(string.IsNullOrWhiteSpace(message));
        if (error is not null)
        {
            Assert.Equal(error, message);
        }

        Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Npgsql", text, StringComparison.Ordinal);
    }

    /// <summary>
    /// One rule, one answer, whichever service takes the input: rule, method, path, body, status, error. An id's
    /// message names what the id is of (the contract's <c>Invalid ID</c> for a crew response); an unknown field's
    /// names the fields the request takes.
    /// </summary>
    public static TheoryData<string, string, string, string?, int, string> SharedRules => new()
    {
        { "malformed id", "GET", "/api/crew-responses/x1", null, 400, "Invalid ID" },
        { "malformed id", "GET", "/api/scheduler/runs/x1", null, 400, "Invalid run ID" },
        { "malformed id", "GET", "/api/scheduler/schedules/x1", null, 400, "Invalid schedule ID" },
        { "malformed id", "GET", "/api/webhooks/x1", null, 400, "Invalid webhook ID" },
        { "limit", "GET", "/api/crew-responses?limit=1001", null, 400, "limit must be a whole number from 0 to 1000" },
        { "limit", "GET", "/api/scheduler/runs?limit=1001", null, 400, "limit must be a whole number from 0 to 1000" },
        { "limit", "GET", "/api/crew-responses?limit=1&limit=2", null, 400, "limit must be given at most once" },
        { "limit", "GET", "/api/scheduler/runs?limit=1&limit=2", null, 400, "limit must be given at most once" },
        { "offset", "GET", "/api/crew-responses?offset=-1", null, 400, "offset must be a whole number of 0 or more" },
        { "offset", "GET", "/api/scheduler/runs?offset=-1", null, 400, "offset must be a whole number of 0 or more" },
        { "filter id", "GET", "/api/crew-responses?scheduleId=0", null, 400, "scheduleId must be a whole number of 1 or more" },
        { "filter id", "GET", "/api/scheduler/runs?scheduleId=0", null, 400, "scheduleId must be a whole number of 1 or more" },
        { "endpoint name", "GET", "/api/crew-responses?endpoint=Not_One", null, 400, "endpoint must be 1 to 40 lower-case letters, digits and dashes" },
        { "endpoint name", "GET", "/api/scheduler/runs?endpoint=Not_One", null, 400, "endpoint must be 1 to 40 lower-case letters, digits and dashes" },
        { "name", "GET", "/api/scheduler/runs?segment=Not%20One", null, 400, "segment must be 1 to 64 lower-case letters, digits, dashes and underscores" },
        { "name", "POST", "/api/webhooks", """{"url":"https://example.com/x","events":["run.completed"],"segment":"Not One"}""", 400, "segment must be 1 to 64 lower-case letters, digits, dashes and underscores" },
        { "name", "POST", "/api/scheduler/schedules", """{"name":"Not One","intervalMinutes":60}""", 400, "name must be 1 to 64 lower-case letters, digits, dashes and underscores" },
        { "unknown field", "POST", "/api/crew-responses", """{"userUid":"e2e-user-001","responseData":{},"colour":1}""", 400, "Unknown field 'colour': a crew response takes userUid, requestContext, requestGoal, responseData, cost" },
        { "unknown field", "POST", "/api/scheduler", """{"action":"stop","colour":1}""", 400, "Unknown field 'colour': stop takes action" },
        { "unknown field", "POST", "/api/scheduler/schedules", """{"name":"n","intervalMinutes":5,"colour":1}""", 400, "Unknown field 'colour': a new schedule takes name, segment, endpoint, intervalMinutes, cron, timeZone, catchUp, overlap, priority, maxCallsPerRun, maxSpendPerRun, maxSpendPerDay, skipUnchanged, paused" },
        { "unknown field", "PATCH", "/api/scheduler/schedules/1", """{"colour":1}""", 400, "Unknown field 'colour': a schedule change takes name, segment, endpoint, intervalMinutes, cron, timeZone, catchUp, overlap, priority, maxCallsPerRun, maxSpendPerRun, maxSpendPerDay, skipUnchanged" },
        { "unknown field", "POST", "/api/webhooks", """{"url":"https://example.com/x","events":["run.completed"],"colour":1}""", 400, "Unknown field 'colour': a webhook takes url, events, segment, jsonPath, includeAnswer" },
        { "not JSON", "POST", "/api/crew-responses", "{", 400, "Request body is not valid JSON" },
        { "not JSON", "POST", "/api/scheduler", "{", 400, "Request body is not valid JSON" },
        { "not JSON", "POST", "/api/scheduler/schedules", "{", 400, "Request body is not valid JSON" },
        { "not JSON", "POST", "/api/webhooks", "{", 400, "Request body is not valid JSON" },
        { "not an object", "POST", "/api/crew-responses", "[]", 400, "Request body must be a JSON object" },
        { "not an object", "POST", "/api/scheduler", "[]", 400, "Request body must be a JSON object" },
        { "not an object", "POST", "/api/scheduler/schedules", "[]", 400, "Request body must be a JSON object" },
        { "not an object", "POST", "/api/webhooks", "[]", 400, "Request body must be a JSON object" },
        { "body size", "POST", "/api/crew-responses", OverOneMebibyte, 413, "Request body must not exceed 1 MiB" },
        { "body size", "POST", "/api/scheduler", OverOneMebibyte, 413, "Request body must not exceed 1 MiB" },
        { "body size", "POST", "/api/scheduler/schedules", OverOneMebibyte, 413, "Request body must not exceed 1 MiB" },
        { "body size", "PATCH", "/api/scheduler/schedules/1", OverOneMebibyte, 413, "Request body must not exceed 1 MiB" },
        { "body size", "POST", "/api/webhooks", OverOneMebibyte, 413, "Request body must not exceed 1 MiB" },
    };

    private static readonly string OverOneMebibyte = "{\"note\":\"" + new string('x', 1024 * 1024) + "\"}";

    [Theory]
    [MemberData(nameof(SharedRules))]
    public async Task A_rule_answers_alike_in_every_service(string rule, string method, string path, string? body, int status, string error)
    {
        var (message, _) = await RefusalAsync(method, path, body, status);
        Assert.True(error == message, $"{rule}: {method} {path} answered '{message}', not '{error}'");
    }

    /// <summary>Sends the request through the gateway, asserts its status and the error envelope; returns its error and body.</summary>
    private async Task<(string? Error, string Body)> RefusalAsync(string method, string path, string? body, int status)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await stack.Gateway.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        Assert.True(status == (int)response.StatusCode, $"{method} {path} answered {(int)response.StatusCode}: {text}");
        using var json = JsonDocument.Parse(text);
        Assert.False(json.RootElement.GetProperty("success").GetBoolean());
        return (json.RootElement.GetProperty("error").GetString(), text);
    }

    [Fact]
    public async Task A_body_over_one_mebibyte_gets_413_in_the_error_envelope_through_the_gateway()
    {
        var big = "{\"userUid\":\"e2e-user-001\",\"responseData\":{\"blob\":\"" + new string('x', (1024 * 1024) + 10) + "\"}}";
        using var content = new StringContent(big, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var response = await stack.Gateway.PostAsync("/api/crew-responses", content);

        Assert.Equal(413, (int)response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.False(json.RootElement.GetProperty("success").GetBoolean());
    }
}
