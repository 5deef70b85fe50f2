using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.Testing;

namespace CrewPlatform.Faults;

/// <summary>The fault stack with two instances of every service (<c>scripts/run-local.sh</c>'s <c>*_REPLICAS=2</c>).</summary>
public sealed class PairsStack : FaultStack
{
    public const int Instances = 2;

    /// <summary>The services that run in pairs, as run-local.sh names their first instance.</summary>
    public static readonly IReadOnlyList<string> Services = ["scheduler", "crew-caller", "response-store", "webhooks", "gateway"];

    /// <summary>The second gateway: run-local.sh puts the k-th instance on the first one's port + 100*(k-1).</summary>
    public static readonly Uri SecondGatewayUrl = new UriBuilder(LocalStackScript.GatewayUrl) { Port = LocalStackScript.GatewayUrl.Port + 100 }.Uri;

    public override Dictionary<string, string?> StackEnvironment()
    {
        var environment = base.StackEnvironment();
        foreach (var service in Services)
        {
            environment[$"{service.ToUpperInvariant().Replace('-', '_')}_REPLICAS"] = Instances.ToString(CultureInfo.InvariantCulture);
        }

        return environment;
    }
}

[CollectionDefinition(Name)]
public sealed class PairsStackCollection : ICollectionFixture<PairsStack>
{
    public const string Name = "pairs stack";
}

/// <summary>
/// Every service in pairs: one instance of each is killed for good mid-run (kill -9, never restarted) and the
/// survivors finish the run with every guarantee of a single crash: each user one answer, nothing parked, only the
/// calls the dead crew caller had in flight repeated; and the second gateway answers for the run.
/// </summary>
[Collection(PairsStackCollection.Name)]
public sealed class PairsTests(PairsStack stack)
{
    [Fact]
    public async Task A_run_on_two_of_every_service_completes_when_one_of_each_dies_for_good()
    {
        using var secondGateway = new HttpClient { BaseAddress = PairsStack.SecondGatewayUrl, Timeout = TimeSpan.FromSeconds(30) };
        secondGateway.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LocalStackScript.AdminToken());
        var runId = await RunGuarantees.ScenarioAsync(stack, "kill -9 one of each pair, for good", _ =>
        {
            foreach (var service in PairsStack.Services)
            {
                Outages.Kill(LocalStackScript.ServicePid(service));
            }

            return Task.FromResult(FaultStack.Concurrency);
        });

        var run = await secondGateway.GetFromJsonAsync<JsonElement>($"/api/scheduler/runs/{runId}");
        Assert.Equal("completed", run.GetProperty("data").GetProperty("status").GetString());
        foreach (var service in PairsStack.Services)
        {
            Assert.False(IsRunning(LocalStackScript.ServicePid(service)), $"{service} was killed for good, yet runs");
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            return !Process.GetProcessById(pid).HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
