using System.Net;
using System.Net.Http.Json;
using CrewPlatform.Gateway.Security;
using CrewPlatform.Gateway.Tests.Support;

namespace CrewPlatform.Gateway.Tests;

public sealed class SecurityHeadersTests(Backends backends) : IClassFixture<Backends>
{
    public static TheoryData<string, string?, HttpStatusCode> Answers => new()
    {
        { "/api/scheduler", GatewayFactory.Token, HttpStatusCode.OK },
        { "/api/scheduler", null, HttpStatusCode.Unauthorized },
        { "/api/nothing-here", GatewayFactory.Token, HttpStatusCode.NotFound },
        { $"/api/crew-responses/{StubBackend.SlowPathSegment}", GatewayFactory.Token, HttpStatusCode.GatewayTimeout },
        { "/openapi/scheduler.json", null, HttpStatusCode.OK },
        { "/health/live", null, HttpStatusCode.OK },
        { "/not-a-route", null, HttpStatusCode.NotFound },
    };

    [Theory]
    [MemberData(nameof(Answers))]
    public async Task Every_answer_carries_the_security_headers(string path, string? token, HttpStatusCode expected)
    {
        var settings = backends.GatewaySettings();
        if (path.EndsWith(StubBackend.SlowPathSegment, StringComparison.Ordinal))
        {
            // Only the slow path is meant to time out: a backend building its OpenAPI document on a busy machine may take a second.
            settings["GATEWAY_BACKEND_TIMEOUT_SECONDS"] = "1";
        }

        await using var gateway = new GatewayFactory(settings);
        using var client = token is null ? gateway.CreateClient() : gateway.CreateAuthorizedClient(token);

        var response = await client.GetAsync(path);

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
        Assert.Equal("DENY", Header(response, "X-Frame-Options"));
        Assert.Equal("no-referrer", Header(response, "Referrer-Policy"));
        Assert.Equal("default-src 'none'; frame-ancestors 'none'", Header(response, "Content-Security-Policy"));
    }

    [Fact]
    public async Task A_rate_limited_answer_carries_them_too()
    {
        var settings = backends.GatewaySettings();
        settings["CREW_RATE_LIMIT_PER_MINUTE"] = "1";
        await using var gateway = new GatewayFactory(settings);
        using var client = gateway.CreateAuthorizedClient();

        await client.GetAsync("/api/scheduler");
        var refused = await client.GetAsync("/api/scheduler");

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("DENY", Header(refused, "X-Frame-Options"));
        Assert.Equal("nosniff", Header(refused, "X-Content-Type-Options"));
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/dashboard/app.js")]
    [InlineData("/dashboard/app.css")]
    public async Task The_dashboard_gets_a_strict_policy_with_nothing_inline_and_nothing_from_elsewhere(string path)
    {
        await using var gateway = new GatewayFactory(backends.GatewaySettings());
        using var client = gateway.CreateClient();

        var response = await client.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(SecurityHeaders.DashboardPolicy, Header(response, "Content-Security-Policy"));
        Assert.DoesNotContain("unsafe-inline", SecurityHeaders.DashboardPolicy, StringComparison.Ordinal);
        Assert.Equal("DENY", Header(response, "X-Frame-Options"));
        Assert.DoesNotContain("http://", body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("https://", body, StringComparison.OrdinalIgnoreCase);
        if (path == "/")
        {
            Assert.DoesNotContain("<style", body, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("style=", body, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("<script>", body, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task The_docs_page_gets_a_policy_that_allows_only_the_gateways_own_resources()
    {
        await using var gateway = new GatewayFactory(backends.GatewaySettings());
        using var client = gateway.CreateClient();

        var page = await client.GetAsync("/docs/");
        var html = await page.Content.ReadAsStringAsync();
        var script = await client.GetAsync("/docs/scalar.js");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var policy = Header(page, "Content-Security-Policy")!;
        Assert.Contains("default-src 'none'", policy, StringComparison.Ordinal);
        Assert.Contains("script-src 'self' 'unsafe-inline'", policy, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", policy, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("http", policy, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("DENY", Header(page, "X-Frame-Options"));

        // The page's scripts come from the gateway itself, and it is told not to fetch fonts from Scalar's servers.
        Assert.Contains("<script src=\"scalar.js\">", html, StringComparison.Ordinal);
        Assert.DoesNotContain("src=\"http", html, StringComparison.Ordinal);
        Assert.Contains("\"withDefaultFonts\":false", html, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
    }

    [Fact]
    public async Task A_backend_cannot_weaken_them()
    {
        await using var gateway = new GatewayFactory(backends.GatewaySettings());
        using var client = gateway.CreateAuthorizedClient();

        // The stub's answer says X-Frame-Options: SAMEORIGIN and Content-Security-Policy: default-src *.
        var response = await client.PostAsJsonAsync("/api/scheduler", new { action = "start" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("default-src 'none'; frame-ancestors 'none'", Header(response, "Content-Security-Policy"));
        Assert.Equal("DENY", Header(response, "X-Frame-Options"));
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? string.Join(", ", values)
            : null;
}
