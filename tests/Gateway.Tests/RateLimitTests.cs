using System.Net;
using CrewPlatform.Gateway.Tests.Support;

namespace CrewPlatform.Gateway.Tests;

public sealed class RateLimitTests(Backends backends) : IClassFixture<Backends>
{
    [Fact]
    public async Task Calls_beyond_the_per_minute_limit_get_429_with_retry_after_and_the_envelope()
    {
        var settings = backends.GatewaySettings();
        settings["CREW_RATE_LIMIT_PER_MINUTE"] = "3";
        await using var gateway = new GatewayFactory(settings);
        using var client = gateway.CreateAuthorizedClient();

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/scheduler")).StatusCode);
        }

        var refused = await client.GetAsync("/api/crew-responses");

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var retryAfter = refused.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value.TotalSeconds, 1, 60);
        await refused.ReadErrorEnvelopeAsync();
    }

    [Fact]
    public async Task Calls_with_a_wrong_token_use_up_the_same_allowance()
    {
        var settings = backends.GatewaySettings();
        settings["CREW_RATE_LIMIT_PER_MINUTE"] = "2";
        await using var gateway = new GatewayFactory(settings);
        using var guesser = gateway.CreateAuthorizedClient("guess");

        Assert.Equal(HttpStatusCode.Unauthorized, (await guesser.GetAsync("/api/scheduler")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await guesser.GetAsync("/api/scheduler")).StatusCode);

        Assert.Equal(HttpStatusCode.TooManyRequests, (await guesser.GetAsync("/api/scheduler")).StatusCode);
    }

    [Fact]
    public async Task A_limit_of_zero_turns_rate_limiting_off()
    {
        var settings = backends.GatewaySettings();
        settings["CREW_RATE_LIMIT_PER_MINUTE"] = "0";
        await using var gateway = new GatewayFactory(settings);
        using var client = gateway.CreateAuthorizedClient();

        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/scheduler")).StatusCode);
        }
    }

    [Fact]
    public async Task Health_checks_are_not_rate_limited()
    {
        var settings = backends.GatewaySettings();
        settings["CREW_RATE_LIMIT_PER_MINUTE"] = "1";
        await using var gateway = new GatewayFactory(settings);
        using var client = gateway.CreateAuthorizedClient();

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
        }
    }
}
