using System.Net;
using CrewPlatform.Gateway.Tests.Support;
using CrewPlatform.Testing;

namespace CrewPlatform.Gateway.Tests;

public sealed class BackendFailureTests(Backends backends) : IClassFixture<Backends>
{
    [Fact]
    public async Task A_backend_that_is_not_running_gives_502_or_503_in_the_envelope()
    {
        var settings = backends.GatewaySettings();
        settings["GATEWAY_SCHEDULER_URL"] = StubBackend.UnusedUrl();
        await using var gateway = new GatewayFactory(settings);
        using var client = gateway.CreateAuthorizedClient();

        var response = await client.GetAsync("/api/scheduler");

        Assert.Contains(response.StatusCode, new[] { HttpStatusCode.BadGateway, HttpStatusCode.ServiceUnavailable });
        await response.ReadErrorEnvelopeAsync();
    }

    [Fact]
    public async Task A_backend_failing_its_health_probe_gives_503_in_the_envelope()
    {
        await using var unhealthy = await StubBackend.StartAsync("scheduler");
        unhealthy.Healthy = false;
        var settings = GatewayFactory.SettingsFor(unhealthy.Url, backends.ResponseStore.Url);
        await using var gateway = new GatewayFactory(settings);
        using var client = gateway.CreateAuthorizedClient();

        HttpResponseMessage? last = null;
        await Eventually.HoldsAsync(
            async () => (last = await client.GetAsync("/api/scheduler")).StatusCode == HttpStatusCode.ServiceUnavailable,
            "the active probe takes the unhealthy scheduler out of rotation");

        Assert.Equal("Service unavailable: no healthy backend for this route", await last!.ReadErrorEnvelopeAsync());
    }

    [Fact]
    public async Task A_backend_slower_than_the_timeout_gives_504_in_the_envelope()
    {
        var settings = backends.GatewaySettings();
        settings["GATEWAY_BACKEND_TIMEOUT_SECONDS"] = "1";
        await using var gateway = new GatewayFactory(settings);
        using var client = gateway.CreateAuthorizedClient();

        var response = await client.GetAsync($"/api/crew-responses/{StubBackend.SlowPathSegment}");

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        await response.ReadErrorEnvelopeAsync();
    }

    [Theory]
    [InlineData("GATEWAY_SCHEDULER_URL", "not a url")]
    [InlineData("GATEWAY_BACKEND_TIMEOUT_SECONDS", "0")]
    [InlineData("CREW_RATE_LIMIT_PER_MINUTE", "-1")]
    [InlineData("CREW_AUTH_DISABLED", "yes")]
    public async Task The_gateway_refuses_to_start_with_an_invalid_setting_and_names_it(string key, string value)
    {
        var settings = backends.GatewaySettings();
        settings[key] = value;
        await using var gateway = new GatewayFactory(settings);

        var error = gateway.StartupFailure();

        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }
}
