using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.Gateway.Tests.Support;

namespace CrewPlatform.Gateway.Tests;

public sealed class RoutingTests(Backends backends) : IClassFixture<Backends>
{
    /// <summary>What the backend that answered saw of an authorized GET through a fresh gateway.</summary>
    private async Task<EchoedRequest> EchoedAsync(string pathAndQuery)
    {
        await using var gateway = new GatewayFactory(backends.GatewaySettings());
        using var client = gateway.CreateAuthorizedClient();
        return (await client.GetFromJsonAsync<EchoedRequest>(pathAndQuery))!;
    }

    [Theory]
    [InlineData("/api/scheduler", "")]
    [InlineData("/api/scheduler", "?verbose=true")]
    [InlineData("/api/scheduler/runs", "?limit=5&offset=10")]
    [InlineData("/api/scheduler/runs/6f1c2d3e-0000-4000-8000-000000000001", "")]
    public async Task Scheduler_paths_reach_the_scheduler_unchanged_with_their_query_string(string path, string query)
    {
        var echoed = await EchoedAsync(path + query);

        Assert.Equal("scheduler", echoed.Backend);
        Assert.Equal(path, echoed.Path);
        Assert.Equal(query, echoed.Query);
    }

    [Theory]
    [InlineData("/api/crew-responses", "?userUid=u-1&limit=10&startDate=2024-01-01")]
    [InlineData("/api/crew-responses/42", "")]
    public async Task Crew_response_paths_reach_the_response_store_unchanged_with_their_query_string(string path, string query)
    {
        var echoed = await EchoedAsync(path + query);

        Assert.Equal("response-store", echoed.Backend);
        Assert.Equal(path, echoed.Path);
        Assert.Equal(query, echoed.Query);
    }

    [Fact]
    public async Task The_crew_callers_endpoints_are_read_through_the_gateway_and_nothing_else_is_forwarded_there()
    {
        await using var crewCaller = await StubBackend.StartAsync("crew-caller");
        var settings = backends.GatewaySettings();
        settings["GATEWAY_CREW_CALLER_URL"] = crewCaller.Url;
        await using var gateway = new GatewayFactory(settings);
        using var client = gateway.CreateAuthorizedClient();

        var echoed = await client.GetFromJsonAsync<EchoedRequest>("/api/crew-caller/endpoints");
        Assert.Equal("crew-caller", echoed!.Backend);
        Assert.Equal("/api/crew-caller/endpoints", echoed.Path);
        Assert.False(echoed.Headers.ContainsKey("Authorization"), "the backend must not see the credential");

        // Read-only: a control method is not routed to the CrewCaller at all.
        using var posted = await client.PostAsJsonAsync("/api/crew-caller/endpoints", new { circuit = "closed" });
        Assert.Equal(HttpStatusCode.NotFound, posted.StatusCode);
        await posted.ReadErrorEnvelopeAsync();

        using var anonymous = gateway.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/crew-caller/endpoints")).StatusCode);
    }

    [Fact]
    public async Task A_posted_body_reaches_the_backend_and_the_admin_token_does_not()
    {
        await using var gateway = new GatewayFactory(backends.GatewaySettings());
        using var client = gateway.CreateAuthorizedClient();

        var response = await client.PostAsJsonAsync("/api/scheduler", new { action = "start", intervalMinutes = 7 });
        var echoed = await response.Content.ReadFromJsonAsync<EchoedRequest>();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("POST", echoed!.Method);
        Assert.Equal("""{"action":"start","intervalMinutes":7}""", echoed.Body);
        Assert.False(echoed.Headers.ContainsKey("Authorization"), "the backend must not see the admin token");
    }

    [Fact]
    public async Task An_unknown_api_path_answers_404_in_the_envelope()
    {
        await using var gateway = new GatewayFactory(backends.GatewaySettings());
        using var client = gateway.CreateAuthorizedClient();

        var response = await client.GetAsync("/api/nothing-here");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        await response.ReadErrorEnvelopeAsync();
    }

    [Theory]
    [InlineData("/openapi/scheduler.json", "scheduler document")]
    [InlineData("/openapi/crew-responses.json", "response-store document")]
    public async Task Each_backends_openapi_document_is_served_by_the_gateway_without_a_token(string path, string title)
    {
        await using var gateway = new GatewayFactory(backends.GatewaySettings());
        using var client = gateway.CreateClient();

        var document = await client.GetFromJsonAsync<JsonElement>(path);

        Assert.Equal(title, document.GetProperty("info").GetProperty("title").GetString());
        // The backend describes itself as the gateway it was fetched through, not its own address, and a client adds
        // paths (which start with a slash) to it as they are.
        Assert.Equal("http://localhost", Assert.Single(document.GetProperty("servers").EnumerateArray()).GetProperty("url").GetString());
        var operation = document.GetProperty("paths").EnumerateObject().Single(p => p.Name.StartsWith("/api/", StringComparison.Ordinal)).Value.GetProperty("get");
        Assert.Equal("bearer", operation.GetProperty("security")[0].EnumerateObject().Single().Name);
        // The gateway's refusals are in the error envelope, declared even where no endpoint of the backend refuses.
        Assert.Equal("#/components/schemas/ErrorEnvelope", operation.GetProperty("responses").GetProperty("401").GetProperty("content")
            .GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString());
        Assert.True(document.GetProperty("components").GetProperty("schemas").TryGetProperty("ErrorEnvelope", out _));
    }

    [Fact]
    public async Task The_docs_page_answers_html_listing_both_documents_without_a_token()
    {
        await using var gateway = new GatewayFactory(backends.GatewaySettings());
        using var client = gateway.CreateClient();

        var response = await client.GetAsync("/docs");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("openapi/scheduler.json", html, StringComparison.Ordinal);
        Assert.Contains("openapi/crew-responses.json", html, StringComparison.Ordinal);
    }
}
