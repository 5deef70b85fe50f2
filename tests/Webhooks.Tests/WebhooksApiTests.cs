using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.Contracts;
using CrewPlatform.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace CrewPlatform.Webhooks.Tests;

/// <summary><c>/api/webhooks</c>: subscriptions, their secrets, and the targets they may not have.</summary>
public sealed class WebhooksApiTests : IAsyncLifetime
{
    private static readonly Dictionary<string, string?> PrivateTargetsRefused =
        new(WebhooksService.TestSettings) { ["WEBHOOKS_ALLOW_PRIVATE_TARGETS"] = "false" };

    private readonly WebhooksService service = new();

    public Task InitializeAsync() => service.InitializeAsync();

    public Task DisposeAsync() => service.DisposeAsync();

    [Fact]
    public async Task A_subscription_shows_its_secret_at_create_and_rotate_only_and_can_be_deleted()
    {
        using var created = await service.Client.PostAsJsonAsync("/api/webhooks",
            new { url = "https://hooks.example.com/crew", events = new[] { "run.completed", "crew-api.unavailable" }, segment = "vip" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var createdJson = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        var data = createdJson.RootElement.GetProperty("data");
        var secret = data.GetProperty("secret").GetString()!;
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        var id = data.GetProperty("webhook").GetProperty("id").GetGuid();
        Assert.Equal($"/api/webhooks/{id}", created.Headers.Location?.ToString());

        var listed = await service.Client.GetStringAsync("/api/webhooks");
        Assert.Contains("hooks.example.com", listed, StringComparison.Ordinal);
        Assert.Contains("\"segment\":\"vip\"", listed, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, listed, StringComparison.Ordinal);
        Assert.DoesNotContain("whsec_", await service.Client.GetStringAsync($"/api/webhooks/{id}"), StringComparison.Ordinal);

        using var rotated = await service.Client.PostAsync($"/api/webhooks/{id}/rotate-secret", null);
        using var rotatedJson = JsonDocument.Parse(await rotated.Content.ReadAsStringAsync());
        var newSecret = rotatedJson.RootElement.GetProperty("data").GetProperty("secret").GetString();
        Assert.StartsWith("whsec_", newSecret, StringComparison.Ordinal);
        Assert.NotEqual(secret, newSecret);

        Assert.Equal(HttpStatusCode.OK, (await service.Client.DeleteAsync($"/api/webhooks/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await service.Client.GetAsync($"/api/webhooks/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await service.Client.DeleteAsync($"/api/webhooks/{id}")).StatusCode);
    }

    [Fact]
    public async Task Create_rotate_and_delete_each_leave_one_audit_row_with_the_actor_and_the_urls_origin_but_never_a_secret()
    {
        var client = service.App.CreateClient();
        client.DefaultRequestHeaders.Add(ServiceDefaults.CrewActor.Header, "ops.hooks");
        client.DefaultRequestHeaders.Add(ServiceDefaults.CrewActor.ClientAddressHeader, "192.0.2.10");
        using var created = await client.PostAsJsonAsync("/api/webhooks",
            new { url = "https://hooks.example.com/services/T0/B0/s3cr3t-path?token=abc", events = new[] { "run.completed" }, segment = "vip" });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("webhook").GetProperty("id").GetGuid();
        using var rotated = await client.PostAsync($"/api/webhooks/{id}/rotate-secret", null);
        var secret = (await rotated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("secret").GetString()!;
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync($"/api/webhooks/{Guid.NewGuid()}/rotate-secret", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.DeleteAsync($"/api/webhooks/{id}")).StatusCode);

        var rows = await service.ScalarAsync<string>(
            "SELECT string_agg(concat_ws(' ', actor, client_address, service, action, target, fields::text), E'\\n' ORDER BY id) FROM audit.entries");

        Assert.Equal(
            $"""
            ops.hooks 192.0.2.10 webhooks webhook.create webhook:{id} {"{"}"url": "https://hooks.example.com", "events": ["run.completed"], "segment": "vip", "includeAnswer": false{"}"}
            ops.hooks 192.0.2.10 webhooks webhook.rotate-secret webhook:{id} {"{}"}
            ops.hooks 192.0.2.10 webhooks webhook.delete webhook:{id} {"{}"}
            """,
            rows);
        Assert.DoesNotContain(secret, rows, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", "/api/webhooks/not-a-guid")]
    [InlineData("DELETE", "/api/webhooks/42")]
    [InlineData("POST", "/api/webhooks/not-a-guid/rotate-secret")]
    [InlineData("GET", "/api/webhooks/not-a-guid/deliveries")]
    public async Task A_malformed_id_is_a_400_in_the_envelope(string method, string url)
    {
        using var response = await service.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), url));
        Assert.Equal("Invalid webhook ID", await BadRequestErrorAsync(response));
    }

    [Theory]
    [InlineData("""{"url":"ftp://example.com/x","events":["run.completed"]}""", "url must be")]
    [InlineData("""{"url":"https://example.com/x","events":[]}""", "events must list")]
    [InlineData("""{"url":"https://example.com/x","events":["run.exploded"]}""", "events must list")]
    [InlineData("""{"url":"https://example.com/x","events":["run.completed"],"segment":"Not A Segment"}""", "segment must be")]
    [InlineData("""{"url":"https://user:pw@example.com/x","events":["run.completed"]}""", "credentials")]
    [InlineData("""{"url":"https://example.com/x","events":"run.completed"}""", "events must list")]
    [InlineData("""{"url":7,"events":["run.completed"]}""", "url must be")]
    [InlineData("""{"url":"https://example.com/x","events":["run.completed"],"segmnet":"vip"}""", "Unknown field 'segmnet': a webhook takes url, events, segment")]
    [InlineData("""{"url":"https://example.com/x","events":["run.completed"]""", "Request body is not valid JSON")]
    [InlineData("""[]""", "Request body must be a JSON object")]
    public async Task Bad_subscriptions_are_refused_with_the_error_envelope(string body, string error)
    {
        using var response = await service.Client.PostAsync("/api/webhooks", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Contains(error, await BadRequestErrorAsync(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_subscription_shows_its_json_path_and_include_answer_at_create_list_and_get()
    {
        const string path = """exists($.Questions[*] ? (@.Answers[*] like_regex "price" flag "i"))""";
        using var created = await service.Client.PostAsJsonAsync("/api/webhooks", new
        {
            url = "https://hooks.example.com/prices", events = new[] { "crew-response.changed", "run.completed" }, jsonPath = path, includeAnswer = true,
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var createdJson = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        var webhook = createdJson.RootElement.GetProperty("data").GetProperty("webhook");
        Assert.Equal(path, webhook.GetProperty("jsonPath").GetString());
        Assert.True(webhook.GetProperty("includeAnswer").GetBoolean());
        var id = webhook.GetProperty("id").GetGuid();

        using var plain = await service.Client.PostAsJsonAsync("/api/webhooks", new { url = "https://hooks.example.com/all", events = new[] { "crew-response.stored" } });
        Assert.Equal(HttpStatusCode.Created, plain.StatusCode);

        var shown = await service.WebhookAsync(id);
        Assert.Equal(path, shown.GetProperty("jsonPath").GetString());
        Assert.True(shown.GetProperty("includeAnswer").GetBoolean());
        using var listed = JsonDocument.Parse(await service.Client.GetStringAsync("/api/webhooks"));
        Assert.Equal(
            [(path, true), (null, false)],
            listed.RootElement.GetProperty("data").EnumerateArray().Select(w => (w.GetProperty("jsonPath").GetString(), w.GetProperty("includeAnswer").GetBoolean())));
        Assert.Equal(path, await service.ScalarAsync<string>("SELECT json_path FROM webhooks.subscriptions WHERE id = $1", id));
    }

    [Theory]
    [InlineData("\"$$\"", "jsonPath is not a valid SQL/JSON path: syntax error")]
    [InlineData("\"$.a[\"", "jsonPath is not a valid SQL/JSON path: syntax error")]
    [InlineData("\"exists($.a\"", "jsonPath is not a valid SQL/JSON path: syntax error")]
    [InlineData("\"@.a\"", "jsonPath is not a valid SQL/JSON path: @ is not allowed in root expressions")]
    [InlineData("\"last\"", "jsonPath is not a valid SQL/JSON path: LAST is allowed only in array subscripts")]
    [InlineData("\"$ like_regex \\\"(\\\"\"", "jsonPath is not a valid SQL/JSON path: invalid regular expression")]
    [InlineData("\"$ like_regex \\\"a\\\" flag \\\"z\\\"\"", "jsonPath is not a valid SQL/JSON path: invalid input syntax for type jsonpath")]
    [InlineData("\"\"", "jsonPath must not be empty")]
    [InlineData("\"   \"", "jsonPath must not be empty")]
    [InlineData("\"a\\u0000b\"", "jsonPath must be at most 2000 characters of text")]
    [InlineData("\"\\ud800\"", "jsonPath must be at most 2000 characters of text")]
    [InlineData("7", "jsonPath must be at most 2000 characters of text")]
    [InlineData("[\"$.a\"]", "jsonPath must be at most 2000 characters of text")]
    [InlineData("{}", "jsonPath must be at most 2000 characters of text")]
    public async Task A_bad_json_path_is_refused_naming_the_problem(string jsonPath, string error)
    {
        var body = $$"""{"url":"https://example.com/x","events":["crew-response.stored"],"jsonPath":{{jsonPath}}}""";
        using var response = await service.Client.PostAsync("/api/webhooks", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.StartsWith(error, await BadRequestErrorAsync(response), StringComparison.Ordinal);
        Assert.Equal(0, await service.ScalarAsync<long>("SELECT count(*) FROM webhooks.subscriptions"));
    }

    [Theory]
    [InlineData("""{"url":"https://example.com/x","events":["crew-response.stored"],"jsonPath":"PATH"}""", "jsonPath must be at most 2000 characters of text")]
    [InlineData("""{"url":"https://example.com/x","events":["run.completed"],"jsonPath":"$.a == 1"}""", "jsonPath applies to crew-response.stored and crew-response.changed only: events must name one of them")]
    [InlineData("""{"url":"https://example.com/x","events":["run.completed","crew-api.unavailable"],"includeAnswer":true}""", "includeAnswer applies to crew-response.stored and crew-response.changed only: events must name one of them")]
    [InlineData("""{"url":"https://example.com/x","events":["crew-response.stored"],"includeAnswer":"yes"}""", "includeAnswer must be true or false")]
    [InlineData("""{"url":"https://example.com/x","events":["crew-response.stored"],"includeAnswer":1}""", "includeAnswer must be true or false")]
    [InlineData("""{"url":"https://example.com/x","events":["crew-response.stored"],"jsonpath":"$.a == 1"}""", "Unknown field 'jsonpath': a webhook takes url, events, segment, jsonPath, includeAnswer")]
    public async Task Json_path_and_include_answer_are_refused_where_they_cannot_apply(string body, string error)
    {
        body = body.Replace("PATH", new string('$', 2001), StringComparison.Ordinal);
        using var response = await service.Client.PostAsync("/api/webhooks", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(error, await BadRequestErrorAsync(response));
    }

    [Fact]
    public async Task Include_answer_false_and_a_null_json_path_are_accepted_with_any_event()
    {
        using var created = await service.Client.PostAsJsonAsync("/api/webhooks", new { url = "https://example.com/x", events = new[] { "run.completed" }, includeAnswer = false, jsonPath = (string?)null });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
    }

    [Fact]
    public void The_model_matches_the_migrations()
    {
        using var scope = service.App.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<CrewPlatform.Webhooks.Persistence.WebhooksDbContext>();
        Assert.False(db.Database.HasPendingModelChanges(), "the EF model differs from the migrations' snapshot");
    }

    [Fact]
    public async Task The_openapi_document_describes_every_operation_for_a_generated_client()
    {
        using var document = await OpenApiDocumentCheck.CheckAsync(service.Client, service.App.Services, "webhooks");

        var id = document.RootElement.GetProperty("paths").GetProperty("/api/webhooks/{id}").GetProperty("get").GetProperty("parameters")[0];
        Assert.Equal("path", id.GetProperty("in").GetString());
        Assert.Equal("uuid", id.GetProperty("schema").GetProperty("format").GetString());

        var newWebhook = document.RootElement.GetProperty("components").GetProperty("schemas").GetProperty("NewWebhook").GetProperty("properties");
        Assert.Contains("SQL/JSON path predicate", newWebhook.GetProperty("jsonPath").GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Contains("boolean", newWebhook.GetProperty("includeAnswer").GetProperty("type").ToString(), StringComparison.Ordinal);
        var view = document.RootElement.GetProperty("components").GetProperty("schemas").GetProperty("WebhookView").GetProperty("properties");
        Assert.True(view.TryGetProperty("jsonPath", out _) && view.TryGetProperty("includeAnswer", out _));
    }

    /// <summary>Asserts a 400 in the failure envelope and returns its error message.</summary>
    private static async Task<string?> BadRequestErrorAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.False(json.RootElement.GetProperty("success").GetBoolean());
        return json.RootElement.GetProperty("error").GetString();
    }

    [Fact]
    public async Task Loopback_link_local_and_private_targets_are_refused_unless_allowed()
    {
        await service.StopAsync();
        await service.StartAsync(PrivateTargetsRefused);
        string[] urls =
        [
            "http://10.0.0.1/hook", "http://127.0.0.1:8080/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]/hook",
            "http://192.168.1.10/hook", "http://[::ffff:127.0.0.1]/hook", "http://localhost/hook",
        ];
        foreach (var url in urls)
        {
            using var response = await service.Client.PostAsJsonAsync("/api/webhooks", new { url, events = new[] { "run.completed" } });
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{url}: {response.StatusCode}");
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Contains("refused", json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(0, await service.ScalarAsync<long>("SELECT count(*) FROM webhooks.subscriptions"));
    }

    [Fact]
    public async Task A_target_that_became_private_is_refused_at_send_time()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var subscription = await service.SubscribeAsync(receiver, "run.completed"); // allowed while the service allows private targets

        await service.StopAsync();
        await service.StartAsync(PrivateTargetsRefused);
        await service.Bus.Publish(new CrewRunCompleted
        {
            RunId = Guid.NewGuid(), Dispatched = 1, Succeeded = 1, Failed = 0, Skipped = 0, CompletedAt = DateTimeOffset.UtcNow,
        });

        IReadOnlyList<JsonElement> attempts = [];
        await Eventually.HoldsAsync(async () => (attempts = await service.AttemptsAsync(subscription)).Count >= 1, "the attempt is logged");
        Assert.Contains("refused", attempts[0].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, attempts[0].GetProperty("statusCode").ValueKind);
        Assert.NotEqual(JsonValueKind.Null, attempts[0].GetProperty("nextAttemptAt").ValueKind);
        Assert.Empty(receiver.Received);
    }
}
