using System.Net;
using System.Net.Http.Json;
using CrewPlatform.Gateway.Tests.Support;

namespace CrewPlatform.Gateway.Tests;

/// <summary>
/// The in-memory server carries no traffic: the peer addresses below (documentation ranges) are only what the
/// gateway is told the connection came from.
/// </summary>
public sealed class ForwardedHeadersTests(Backends backends) : IClassFixture<Backends>
{
    private static readonly IPAddress Proxy = IPAddress.Parse("192.0.2.10");
    private static readonly IPAddress Stranger = IPAddress.Parse("203.0.113.5");

    private Dictionary<string, string?> Settings(string? knownProxies, int limit = 0)
    {
        var settings = backends.GatewaySettings();
        settings["CREW_GATEWAY_KNOWN_PROXIES"] = knownProxies;
        settings["CREW_RATE_LIMIT_PER_MINUTE"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return settings;
    }

    private static Task<HttpResponseMessage> GetAsForwarded(HttpClient client, string forwardedFor, string? proto = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/scheduler");
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        if (proto is not null)
        {
            request.Headers.Add("X-Forwarded-Proto", proto);
        }

        return client.SendAsync(request);
    }

    [Theory]
    [InlineData(null, "203.0.113.5")]
    [InlineData("192.0.2.10", "203.0.113.5")]
    // ASP.NET trusts loopback by default; here only the configured proxies are trusted.
    [InlineData("192.0.2.10", "127.0.0.1")]
    [InlineData("192.0.2.10", "::1")]
    public async Task A_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored_by_the_limit(string? knownProxies, string peer)
    {
        await using var gateway = new GatewayFactory(Settings(knownProxies, limit: 2), IPAddress.Parse(peer));
        using var client = gateway.CreateAuthorizedClient();

        Assert.Equal(HttpStatusCode.OK, (await GetAsForwarded(client, "198.51.100.1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetAsForwarded(client, "198.51.100.2")).StatusCode);

        // Same socket address, so the same allowance, whatever the header claims.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await GetAsForwarded(client, "198.51.100.3")).StatusCode);
    }

    [Theory]
    [InlineData("192.0.2.10")]
    [InlineData("192.0.2.0/24, 2001:db8::/32")]
    public async Task Behind_a_known_proxy_each_forwarded_client_has_its_own_allowance(string knownProxies)
    {
        await using var gateway = new GatewayFactory(Settings(knownProxies, limit: 1), Proxy);
        using var client = gateway.CreateAuthorizedClient();

        Assert.Equal(HttpStatusCode.OK, (await GetAsForwarded(client, "198.51.100.1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetAsForwarded(client, "198.51.100.2")).StatusCode);

        Assert.Equal(HttpStatusCode.TooManyRequests, (await GetAsForwarded(client, "198.51.100.1")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await GetAsForwarded(client, "203.0.113.99, 198.51.100.2")).StatusCode);
    }

    [Fact]
    public async Task A_known_proxy_passes_on_the_client_and_scheme_to_the_backend_and_the_access_log()
    {
        await using var gateway = new GatewayFactory(Settings("192.0.2.10"), Proxy);
        using var client = gateway.CreateAuthorizedClient();

        var echoed = (await (await GetAsForwarded(client, "198.51.100.7", "https")).Content.ReadFromJsonAsync<EchoedRequest>())!;

        Assert.Equal("198.51.100.7", echoed.Headers["X-Forwarded-For"]);
        Assert.Equal("https", echoed.Headers["X-Forwarded-Proto"]);
        Assert.Contains(gateway.Logs.Entries, entry => entry.Message.Contains("answered 200 in", StringComparison.Ordinal)
            && entry.Message.Contains("to 198.51.100.7 as admin", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_untrusted_peer_cannot_claim_another_client_or_scheme()
    {
        await using var gateway = new GatewayFactory(Settings("192.0.2.10"), Stranger);
        using var client = gateway.CreateAuthorizedClient();

        var echoed = (await (await GetAsForwarded(client, "198.51.100.7", "https")).Content.ReadFromJsonAsync<EchoedRequest>())!;

        Assert.Equal("203.0.113.5", echoed.Headers["X-Forwarded-For"]);
        Assert.Equal("http", echoed.Headers["X-Forwarded-Proto"]);
    }

    /// <summary>A generated client calls the address in the document's server: https when a known proxy says the client came over it.</summary>
    [Theory]
    [InlineData("192.0.2.10", "https://localhost")]
    [InlineData("203.0.113.5", "http://localhost")]
    public async Task A_backends_openapi_document_names_the_scheme_the_client_used_as_the_gateway_believes_it(string peer, string server)
    {
        await using var gateway = new GatewayFactory(Settings("192.0.2.10"), IPAddress.Parse(peer));
        using var client = gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/openapi/scheduler.json");
        request.Headers.Add("X-Forwarded-For", "198.51.100.7");
        request.Headers.Add("X-Forwarded-Proto", "https");

        var document = (await (await client.SendAsync(request)).Content.ReadFromJsonAsync<System.Text.Json.JsonElement>())!;

        Assert.Equal(server, document.GetProperty("servers")[0].GetProperty("url").GetString());
    }

    [Theory]
    [InlineData("10.0.0.5,not-an-ip")]
    [InlineData("10.0.0.0/33")]
    public async Task The_gateway_refuses_to_start_with_a_bad_known_proxy(string knownProxies)
    {
        await using var gateway = new GatewayFactory(Settings(knownProxies));

        Assert.Contains("CREW_GATEWAY_KNOWN_PROXIES", gateway.StartupFailure().Message, StringComparison.Ordinal);
    }
}
