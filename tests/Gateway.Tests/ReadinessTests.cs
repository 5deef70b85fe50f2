using System.Net;
using System.Text.Json;
using CrewPlatform.Gateway.Tests.Support;
using CrewPlatform.Testing;

namespace CrewPlatform.Gateway.Tests;

public sealed class ReadinessTests
{
    [Fact]
    public async Task The_gateway_is_ready_once_both_backends_answer_their_probe_and_not_after_one_stops()
    {
        await using var scheduler = await StubBackend.StartAsync("scheduler");
        await using var responseStore = await StubBackend.StartAsync("response-store");
        await using var gateway = new GatewayFactory(GatewayFactory.SettingsFor(scheduler.Url, responseStore.Url));
        using var client = gateway.CreateClient();

        await Eventually.HoldsAsync(
            async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK,
            "both backends answered the gateway's active probe");

        responseStore.Healthy = false;

        HttpResponseMessage? last = null;
        await Eventually.HoldsAsync(
            async () => (last = await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.ServiceUnavailable,
            "the response store failed its probes");
        var report = JsonDocument.Parse(await last!.Content.ReadAsStringAsync()).RootElement;
        Assert.Contains("response-store", report.GetProperty("checks").GetProperty("backends").GetProperty("description").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_gateway_is_not_ready_while_a_backend_is_not_running()
    {
        await using var scheduler = await StubBackend.StartAsync("scheduler");
        await using var gateway = new GatewayFactory(GatewayFactory.SettingsFor(scheduler.Url, StubBackend.UnusedUrl()));
        using var client = gateway.CreateClient();

        // Wait until the running backend has been probed, so "not ready" is about the missing one.
        await Eventually.HoldsAsync(
            async () => (await (await client.GetAsync("/health/ready")).Content.ReadAsStringAsync())
                .Contains("no healthy destination: response-store\"", StringComparison.Ordinal),
            "the scheduler was probed healthy and the response store was not");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health/ready")).StatusCode);
    }

    [Fact]
    public async Task A_crew_caller_that_is_not_running_leaves_the_gateway_ready_and_its_route_answers_in_the_envelope()
    {
        await using var scheduler = await StubBackend.StartAsync("scheduler");
        await using var responseStore = await StubBackend.StartAsync("response-store");
        var settings = GatewayFactory.SettingsFor(scheduler.Url, responseStore.Url);
        settings["GATEWAY_CREW_CALLER_URL"] = StubBackend.UnusedUrl();
        await using var gateway = new GatewayFactory(settings);
        using var client = gateway.CreateAuthorizedClient();

        await Eventually.HoldsAsync(
            async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK,
            "the gateway is ready without its CrewCaller");

        using var endpoints = await client.GetAsync("/api/crew-caller/endpoints");
        Assert.True(endpoints.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable, $"answered {(int)endpoints.StatusCode}");
        await endpoints.ReadErrorEnvelopeAsync();
    }
}
