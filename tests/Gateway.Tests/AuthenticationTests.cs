using System.Net;
using CrewPlatform.Gateway.Tests.Support;
using Microsoft.Extensions.Logging;

namespace CrewPlatform.Gateway.Tests;

public sealed class AuthenticationTests(Backends backends) : IClassFixture<Backends>
{
    [Theory]
    [InlineData("/api/scheduler")]
    [InlineData("/api/crew-responses/1")]
    [InlineData("/api/nothing-here")]
    public async Task A_call_without_a_token_is_refused_with_401_and_a_bearer_challenge(string path)
    {
        await using var gateway = new GatewayFactory(backends.GatewaySettings());
        using var client = gateway.CreateClient();

        var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
        await response.ReadErrorEnvelopeAsync();
    }

    [Theory]
    [InlineData("wrong-token")]
    [InlineData(GatewayFactory.Token + "x")]
    [InlineData("test-admin-toke")]
    public async Task A_call_with_a_wrong_token_is_refused_with_401(string token)
    {
        await using var gateway = new GatewayFactory(backends.GatewaySettings());
        using var client = gateway.CreateAuthorizedClient(token);

        var response = await client.PostAsync("/api/scheduler", new StringContent("""{"action":"stop"}"""));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
        Assert.Equal("Invalid token", await response.ReadErrorEnvelopeAsync());
    }

    [Fact]
    public async Task A_token_sent_with_another_scheme_is_refused()
    {
        await using var gateway = new GatewayFactory(backends.GatewaySettings());
        using var client = gateway.CreateClient();
        client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "Basic " + GatewayFactory.Token);

        var response = await client.GetAsync("/api/scheduler");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task A_call_with_the_right_token_is_forwarded()
    {
        await using var gateway = new GatewayFactory(backends.GatewaySettings());
        using var client = gateway.CreateAuthorizedClient();

        var response = await client.GetAsync("/api/scheduler");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public async Task The_gateway_refuses_to_start_without_a_token(string? token)
    {
        var settings = backends.GatewaySettings();
        settings["CREW_ADMIN_TOKEN"] = token;
        await using var gateway = new GatewayFactory(settings);

        var error = gateway.StartupFailure();

        Assert.Contains("CREW_ADMIN_TOKEN", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_authentication_explicitly_disabled_calls_need_no_token()
    {
        var settings = backends.GatewaySettings();
        settings["CREW_ADMIN_TOKEN"] = null;
        settings["CREW_AUTH_DISABLED"] = "true";
        await using var gateway = new GatewayFactory(settings);
        using var client = gateway.CreateClient();

        var response = await client.GetAsync("/api/crew-responses");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(gateway.Logs.Entries, entry =>
            entry.Level == LogLevel.Warning && entry.Message.Contains("authentication is OFF", StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_authentication_on_no_warning_about_it_is_logged()
    {
        await using var gateway = new GatewayFactory(backends.GatewaySettings());
        using var client = gateway.CreateClient();

        await client.GetAsync("/health/live");

        Assert.DoesNotContain(gateway.Logs.Entries, entry => entry.Message.Contains("authentication is OFF", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("/health/live")]
    [InlineData("/openapi/scheduler.json")]
    [InlineData("/docs/")]
    public async Task Health_and_docs_stay_open_without_a_token(string path)
    {
        await using var gateway = new GatewayFactory(backends.GatewaySettings());
        using var client = gateway.CreateClient();

        var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
