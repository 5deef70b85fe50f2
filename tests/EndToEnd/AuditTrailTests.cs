using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.ServiceDefaults.Audit;
using CrewPlatform.Testing;

namespace CrewPlatform.EndToEnd;

/// <summary>
/// The audit trail through the real gateway and services: an API key, a JWT and a dashboard session each leave one row
/// per action named as the gateway authenticated them, a client's own identity and address headers are ignored, and
/// only an admin reads the trail.
/// </summary>
[Collection(LocalStackCollection.Name)]
public sealed class AuditTrailTests(LocalStack stack)
{
    private static HttpClient Client(string? bearer = null)
    {
        var client = new HttpClient { BaseAddress = LocalStack.GatewayUrl };
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        // Forged: the gateway must put its own in their place.
        client.DefaultRequestHeaders.Add(CrewActor.Header, "forged-actor");
        client.DefaultRequestHeaders.Add(CrewActor.ClientAddressHeader, "6.6.6.6");
        return client;
    }

    private async Task<List<JsonElement>> RowsAsync(string query)
    {
        var page = await stack.Gateway.GetFromJsonAsync<JsonElement>("/api/audit?limit=1000&" + query);
        return [.. page.GetProperty("data").EnumerateArray().Reverse()];
    }

    private static async Task<int> CreateScheduleAsync(HttpClient client, string name, HttpRequestMessage? template = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/scheduler/schedules")
        {
            Content = JsonContent.Create(new { name, intervalMinutes = 720, paused = true }),
        };
        foreach (var header in template?.Headers ?? Enumerable.Empty<KeyValuePair<string, IEnumerable<string>>>())
        {
            request.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        using var response = await client.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("id").GetInt32();
    }

    [Fact]
    public async Task An_api_key_a_jwt_and_a_dashboard_session_each_leave_one_row_per_action_under_their_own_name()
    {
        var subject = $"e2e-{Guid.NewGuid():N}";
        var byKey = await CreateScheduleAsync(Client(LocalStack.OpsKey), $"audit-key-{subject}");
        var byJwt = await CreateScheduleAsync(
            Client(stack.Issuer.Mint(subject, new Dictionary<string, object> { ["role"] = "admin" })), $"audit-jwt-{subject}");

        using var browser = Client();
        using var signedIn = await browser.PostAsJsonAsync("/dashboard/session", new { key = LocalStack.OpsKey });
        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        var cookie = signedIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("crew-session=", StringComparison.Ordinal)).Split(';')[0];
        var token = (await signedIn.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("antiForgeryToken").GetString()!;
        using var session = new HttpRequestMessage();
        session.Headers.Add("Cookie", cookie);
        session.Headers.Add("X-Crew-Anti-Forgery", token);
        var bySession = await CreateScheduleAsync(browser, $"audit-session-{subject}", session);

        var keyRows = await RowsAsync($"target={AuditTargets.Schedule(byKey)}");
        var jwtRows = await RowsAsync($"target={AuditTargets.Schedule(byJwt)}");
        var sessionRows = await RowsAsync($"target={AuditTargets.Schedule(bySession)}");

        foreach (var (rows, actor) in new[] { (keyRows, LocalStack.OpsKeyName), (jwtRows, $"jwt:{subject}"), (sessionRows, LocalStack.OpsKeyName) })
        {
            var row = Assert.Single(rows);
            Assert.Equal(AuditActions.ScheduleCreate, row.GetProperty("action").GetString());
            Assert.Equal(actor, row.GetProperty("actor").GetString());
            Assert.Equal("127.0.0.1", row.GetProperty("clientAddress").GetString());
            Assert.Equal(720, row.GetProperty("fields").GetProperty("intervalMinutes").GetInt32());
        }

        Assert.Empty(await RowsAsync("actor=forged-actor"));
        var signIns = await RowsAsync($"actor={LocalStack.OpsKeyName}&action={AuditActions.SessionSignIn}");
        Assert.Contains(signIns, row => row.GetProperty("clientAddress").GetString() == "127.0.0.1");
    }

    [Fact]
    public async Task A_read_key_cannot_read_the_audit_trail()
    {
        using var response = await Client(LocalStack.ReadKey).GetAsync("/api/audit");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("an admin key is required", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
