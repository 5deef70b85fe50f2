using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using CrewPlatform.Testing;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace CrewPlatform.Deploy.Tests;

/// <summary>What each service's RabbitMQ user may do once deploy/rabbitmq/provision.sh has run.</summary>
public sealed class RabbitMqUsersTests(ProvisionedVirtualHost broker) : IClassFixture<ProvisionedVirtualHost>
{
    public static TheoryData<string> Services => new(ProvisionedVirtualHost.Services);

    [Theory]
    [MemberData(nameof(Services))]
    public async Task A_service_user_declares_publishes_and_consumes_in_the_platform_virtual_host(string service)
    {
        await using var connection = await ConnectAsync(service, broker.Name);
        await using var channel = await connection.CreateChannelAsync();
        var queue = $"probe-{service.ToLowerInvariant()}";
        await channel.QueueDeclareAsync(queue, durable: false, exclusive: false, autoDelete: false);
        await channel.BasicPublishAsync("", queue, Encoding.UTF8.GetBytes(service));

        BasicGetResult? got = null;
        await Eventually.HoldsAsync(async () => (got = await channel.BasicGetAsync(queue, autoAck: true)) is not null, $"{queue} holds the message");
        Assert.Equal(service, Encoding.UTF8.GetString(got!.Body.Span));
    }

    [Theory]
    [MemberData(nameof(Services))]
    public async Task A_service_user_cannot_open_another_virtual_host_so_cannot_declare_or_consume_there(string service)
    {
        foreach (var vhost in new[] { broker.OtherVirtualHost, "/" })
        {
            await AssertRefusedAsync(service, vhost, channel => channel.BasicGetAsync(ProvisionedVirtualHost.OtherQueue, autoAck: true));
            await AssertRefusedAsync(service, vhost, channel => channel.QueueDeclareAsync("intruder", durable: false, exclusive: false, autoDelete: true));
        }

        // Still there for its owner: the refusal is the user's, not a broken virtual host.
        await using var guest = await new ConnectionFactory
        {
            HostName = broker.RabbitMq.Host,
            Port = broker.RabbitMq.Port,
            VirtualHost = broker.OtherVirtualHost,
            UserName = broker.RabbitMq.Username,
            Password = broker.RabbitMq.Password,
        }.CreateConnectionAsync();
        await using var channel = await guest.CreateChannelAsync();
        Assert.Equal(1u, await channel.MessageCountAsync(ProvisionedVirtualHost.OtherQueue));
    }

    [Theory]
    [MemberData(nameof(Services))]
    public async Task A_service_user_has_no_access_to_the_management_API(string service)
    {
        using var client = new HttpClient { BaseAddress = broker.ManagementApi };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(
            "Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{broker.User(service)}:{broker.Password(service)}")));

        using var response = await client.GetAsync("overview");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Provisioning_again_replaces_the_passwords_and_takes_away_rights_on_other_virtual_hosts()
    {
        var user = broker.User("SCHEDULER");
        var oldPassword = broker.Password("SCHEDULER");
        using var admin = broker.ManagementClient();
        (await admin.PutAsJsonAsync($"permissions/{broker.OtherVirtualHost}/{user}", new { configure = ".*", write = ".*", read = ".*" })).EnsureSuccessStatusCode();

        await broker.ProvisionAsync();

        var permissions = await admin.GetFromJsonAsync<List<Permission>>($"users/{user}/permissions") ?? [];
        Assert.Equal([broker.Name], permissions.Select(p => p.Vhost));
        await Assert.ThrowsAsync<BrokerUnreachableException>(() => ConnectAsync("SCHEDULER", broker.Name, oldPassword));
        await using var connection = await ConnectAsync("SCHEDULER", broker.Name);
        Assert.True(connection.IsOpen);
    }

    private sealed record Permission(string Vhost);

    private Task<IConnection> ConnectAsync(string service, string vhost, string? password = null) =>
        new ConnectionFactory
        {
            HostName = broker.RabbitMq.Host,
            Port = broker.RabbitMq.Port,
            VirtualHost = vhost,
            UserName = broker.User(service),
            Password = password ?? broker.Password(service),
            AutomaticRecoveryEnabled = false,
        }.CreateConnectionAsync();

    /// <summary>
    /// The broker refuses the virtual host when the connection opens; RabbitMQ.Client 7 may report the connection open
    /// and fail the first operation instead, so the refusal is looked for up to the operation.
    /// </summary>
    private async Task AssertRefusedAsync(string service, string vhost, Func<IChannel, Task> operation)
    {
        try
        {
            await using var connection = await ConnectAsync(service, vhost);
            await using var channel = await connection.CreateChannelAsync();
            await operation(channel);
        }
        catch (Exception ex) when (ex is BrokerUnreachableException or OperationInterruptedException)
        {
            Assert.Contains($"access to vhost '{vhost}' refused", Describe(ex), StringComparison.Ordinal);
            return;
        }

        Assert.Fail($"{broker.User(service)} used the virtual host {vhost}");
    }

    private static string Describe(Exception exception) =>
        exception.InnerException is null ? exception.Message : $"{exception.Message} <- {Describe(exception.InnerException)}";
}
