using System.Net.Http.Json;
using CrewPlatform.Testing;

namespace CrewPlatform.Deploy.Tests;

/// <summary>
/// This fixture's virtual host provisioned as the platform's by <c>deploy/rabbitmq/provision.sh</c>, exactly as compose
/// and infra.sh run it, with user names of its own (users belong to the whole broker), and a second virtual host, as
/// guest, standing for anything else on the broker. Both virtual hosts and the users are removed afterwards.
/// </summary>
public sealed class ProvisionedVirtualHost : RealInfrastructure
{
    public static readonly string[] Services = ["SCHEDULER", "CREW_CALLER", "RESPONSE_STORE", "WEBHOOKS"];

    private readonly Dictionary<string, string> passwords = [];

    /// <summary>Another virtual host of the same broker, with a queue holding one message.</summary>
    public string OtherVirtualHost => $"{Name}-other";

    public const string OtherQueue = "not-yours";

    /// <summary>The user of a service (<c>SCHEDULER</c>, <c>CREW_CALLER</c>, <c>RESPONSE_STORE</c>) in this fixture.</summary>
    public string User(string service) => $"{Name}-{service.ToLowerInvariant().Replace('_', '-')}";

    public string Password(string service) => passwords[service];

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        using var client = ManagementClient();
        (await client.PutAsync($"vhosts/{OtherVirtualHost}", null)).EnsureSuccessStatusCode();
        (await client.PutAsJsonAsync($"permissions/{OtherVirtualHost}/{RabbitMq.Username}", new { configure = ".*", write = ".*", read = ".*" })).EnsureSuccessStatusCode();
        (await client.PutAsJsonAsync($"queues/{OtherVirtualHost}/{OtherQueue}", new { durable = false, auto_delete = false })).EnsureSuccessStatusCode();
        (await client.PostAsJsonAsync($"exchanges/{OtherVirtualHost}/amq.default/publish", new
        {
            properties = new { },
            routing_key = OtherQueue,
            payload = "someone else's message",
            payload_encoding = "string",
        })).EnsureSuccessStatusCode();
        await ProvisionAsync();
    }

    public override async Task DisposeAsync()
    {
        using (var client = ManagementClient())
        {
            foreach (var service in Services)
            {
                await client.DeleteAsync($"users/{User(service)}");
            }

            await client.DeleteAsync($"vhosts/{OtherVirtualHost}");
        }

        await base.DisposeAsync();
    }

    /// <summary>Runs the provisioning (again), with new passwords for every user.</summary>
    public async Task ProvisionAsync()
    {
        var environment = new Dictionary<string, string?>
        {
            ["RABBITMQ_MANAGEMENT_URL"] = ManagementApi.GetLeftPart(UriPartial.Authority),
            ["RABBITMQ_ADMIN_USER"] = RabbitMq.Username,
            ["RABBITMQ_ADMIN_PASSWORD"] = RabbitMq.Password,
            ["CREW_RABBITMQ_VHOST"] = Name,
        };
        foreach (var service in Services)
        {
            passwords[service] = ProvisionedDatabase.NewPassword();
            environment[$"{service}_RABBITMQ_USER"] = User(service);
            environment[$"{service}_RABBITMQ_PASSWORD"] = passwords[service];
        }

        var (exitCode, output) = await LocalStackScript.RunProcessAsync("sh", ["deploy/rabbitmq/provision.sh"], environment);
        Assert.True(exitCode == 0, $"deploy/rabbitmq/provision.sh exited {exitCode}:\n{output}");
    }
}
