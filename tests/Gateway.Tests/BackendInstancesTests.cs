using System.Net.Http.Json;
using CrewPlatform.Gateway.Tests.Support;
using CrewPlatform.Testing;

namespace CrewPlatform.Gateway.Tests;

/// <summary>Several instances of one backend (<c>GATEWAY_*_URL</c> listing them): balanced, and one that stops answering is left out.</summary>
public sealed class BackendInstancesTests
{
    private static async Task<string> BackendOfAsync(HttpClient client)
    {
        var echoed = await client.GetFromJsonAsync<EchoedRequest>("/api/scheduler/runs");
        return echoed!.Headers["Host"];
    }

    [Fact]
    public async Task Calls_are_spread_over_every_listed_instance_and_leave_out_one_its_probe_finds_down()
    {
        await using var first = await StubBackend.StartAsync("scheduler");
        await using var second = await StubBackend.StartAsync("scheduler");
        await using var responseStore = await StubBackend.StartAsync("response-store");
        await using var gateway = new GatewayFactory(GatewayFactory.SettingsFor($"{first.Url}, {second.Url}", responseStore.Url));
        using var client = gateway.CreateAuthorizedClient();
        var hosts = new[] { new Uri(first.Url).Authority, new Uri(second.Url).Authority };

        var reached = new HashSet<string>();
        await Eventually.HoldsAsync(async () =>
        {
            reached.Add(await BackendOfAsync(client));
            return reached.Count == 2;
        }, "calls reached both scheduler instances");
        Assert.Equal(hosts.Order(), reached.Order());

        first.Healthy = false;
        await Eventually.HoldsAsync(async () =>
        {
            for (var i = 0; i < 10; i++)
            {
                if (await BackendOfAsync(client) != hosts[1])
                {
                    return false;
                }
            }

            return true;
        }, "every call goes to the instance its probe still finds up");
    }

    [Theory]
    [InlineData("http://127.0.0.1:8081,not-a-url", "GATEWAY_SCHEDULER_URL must be an absolute http:// or https:// URL, or several separated by commas (one per instance)")]
    [InlineData(" , ", "GATEWAY_SCHEDULER_URL must be an absolute http:// or https:// URL, or several separated by commas (one per instance)")]
    [InlineData("http://127.0.0.1:8081,http://127.0.0.1:8081", "GATEWAY_SCHEDULER_URL names an instance twice")]
    public void A_bad_list_of_instances_stops_the_gateway_naming_the_setting(string value, string error)
    {
        using var gateway = new GatewayFactory(GatewayFactory.SettingsFor(value, StubBackend.UnusedUrl()));

        Assert.Contains(error, gateway.StartupFailure().Message, StringComparison.Ordinal);
    }
}
