using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CrewPlatform.CrewCaller.Tests.Harness;

public sealed class CrewCallerOptionsTests
{
    [Fact]
    public void Without_settings_the_documented_defaults_apply()
    {
        var options = Resolve(new Dictionary<string, string?>());

        Assert.Equal("http://127.0.0.1:8090/run-crew", options.ApiUrl);
        Assert.Equal((600d, 8, 4, 2_000, 8L * 1024 * 1024), (options.ApiTimeoutSeconds, options.MaxConcurrency, options.MaxAttempts, options.RetryBaseDelayMs, options.MaxResponseBytes));
        Assert.Equal((TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(120)), (options.ClaimLease, options.ShutdownDrain));
    }

    [Fact]
    public void The_drain_time_sets_how_long_consumers_and_the_host_may_take_to_stop()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["CREW_SHUTDOWN_DRAIN_SECONDS"] = "45" }).Build();
        var services = new ServiceCollection();
        services.AddOptions<MassTransit.MassTransitHostOptions>().Configure(options => options.ConsumerStopTimeout = TimeSpan.FromSeconds(10));
        using var provider = services.AddCrewCaller(configuration).BuildServiceProvider();

        var bus = provider.GetRequiredService<IOptions<MassTransit.MassTransitHostOptions>>().Value;
        var host = provider.GetRequiredService<IOptions<Microsoft.Extensions.Hosting.HostOptions>>().Value;

        // The calls' own drain ends at 45 s; MassTransit cancels consumers only after they had time to hand back.
        Assert.Equal((TimeSpan.FromSeconds(55), TimeSpan.FromSeconds(70)), (bus.ConsumerStopTimeout, bus.StopTimeout));
        Assert.Equal(TimeSpan.FromSeconds(85), host.ShutdownTimeout);
    }

    [Fact]
    public void A_setting_set_to_nothing_keeps_its_default_as_in_every_service()
    {
        var options = Resolve(new Dictionary<string, string?> { ["CREW_MAX_CONCURRENCY"] = "", ["CREW_API_URL"] = " " });

        Assert.Equal((8, "http://127.0.0.1:8090/run-crew"), (options.MaxConcurrency, options.ApiUrl));
    }

    [Theory]
    [InlineData("CREW_MAX_CONCURRENCY", "0")]
    [InlineData("CREW_MAX_ATTEMPTS", "0")]
    [InlineData("CREW_API_TIMEOUT_SECONDS", "-1")]
    [InlineData("CREW_MAX_RESPONSE_BYTES", "0")]
    [InlineData("CREW_CIRCUIT_TRIP_PERCENT", "101")]
    [InlineData("CREW_CLAIM_LEASE_SECONDS", "2")]
    [InlineData("CREW_CLAIM_LEASE_SECONDS", "3601")]
    [InlineData("CREW_SHUTDOWN_DRAIN_SECONDS", "-1")]
    [InlineData("CREW_SHUTDOWN_DRAIN_SECONDS", "3601")]
    [InlineData("CREW_API_URL", "not a url")]
    [InlineData("CREW_API_URL", "ftp://crew.test/run-crew")]
    [InlineData("CREW_COST_PER_CALL", "-0.01")]
    [InlineData("CREW_COST_POINTER", "usage/total_cost")]
    [InlineData("CREW_CALLS_PER_MINUTE", "0")]
    [InlineData("CREW_CALLS_PER_MINUTE", "1000001")]
    public void A_bad_value_fails_with_a_message_naming_the_setting(string name, string value)
    {
        var error = Assert.Throws<OptionsValidationException>(() => Resolve(new Dictionary<string, string?> { [name] = value }));
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("CostPerCall", "-1")]
    [InlineData("CostPointer", "cost")]
    [InlineData("CallsPerMinute", "0")]
    public void A_bad_price_pointer_or_pace_of_an_endpoint_fails_naming_the_endpoints_setting(string setting, string value)
    {
        var error = Assert.Throws<OptionsValidationException>(() => Resolve(new Dictionary<string, string?>
        {
            ["CREW_ENDPOINTS:premium:Url"] = "http://crew.test/run-crew",
            [$"CREW_ENDPOINTS:premium:{setting}"] = value,
        }));
        Assert.Contains($"CREW_ENDPOINTS__premium__{setting}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Prices_pointers_and_paces_are_read_for_the_default_endpoint_and_each_named_one()
    {
        var options = Resolve(new Dictionary<string, string?>
        {
            ["CREW_COST_PER_CALL"] = "0.02", ["CREW_COST_POINTER"] = "/usage/cost", ["CREW_CALLS_PER_MINUTE"] = "30",
            ["CREW_ENDPOINTS:premium:Url"] = "http://crew.test/run-crew", ["CREW_ENDPOINTS:premium:CostPerCall"] = "1.5", ["CREW_ENDPOINTS:premium:CallsPerMinute"] = "1000000",
        });

        Assert.Equal((0.02m, "/usage/cost", 30), (options.CostPerCall, options.CostPointer, options.CallsPerMinute));
        Assert.Equal((1.5m, (string?)null, 1_000_000), (options.Endpoints!["premium"].CostPerCall, options.Endpoints["premium"].CostPointer, options.Endpoints["premium"].CallsPerMinute));
    }

    private static CrewCallerOptions Resolve(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        using var provider = new ServiceCollection().AddCrewCaller(configuration).BuildServiceProvider();
        return provider.GetRequiredService<IOptions<CrewCallerOptions>>().Value;
    }
}
