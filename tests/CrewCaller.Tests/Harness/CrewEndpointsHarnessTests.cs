using System.Net;
using System.Net.Sockets;
using System.Text;
using CrewPlatform.CrewCaller.CrewApi;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CrewPlatform.CrewCaller.Tests.Harness;

/// <summary>A configured crew endpoint as CrewCaller builds it: its URL, headers, timeout and limits.</summary>
public sealed class CrewEndpointsHarnessTests
{
    private static ServiceProvider Provider(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddCrewCaller(configuration);
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task A_configured_endpoint_posts_to_its_own_URL_with_its_headers_and_takes_unset_limits_from_the_defaults()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        await using var provider = Provider(new()
        {
            ["CREW_MAX_CONCURRENCY"] = "5",
            ["CREW_ENDPOINTS:premium:Url"] = $"http://127.0.0.1:{port}/v2/run-crew",
            ["CREW_ENDPOINTS:premium:MaxAttempts"] = "2",
            ["CREW_ENDPOINTS:premium:Headers:X-Api-Key"] = "k-123",
        });
        var endpoint = provider.GetRequiredService<CrewEndpoints>().For("premium");
        var invoker = provider.GetRequiredService<CrewApiInvoker>();

        var attempt = invoker.AttemptAsync(endpoint, new CrewRequest("a", "b"), "run:user", CancellationToken.None);
        using var socket = await listener.AcceptSocketAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var request = await ReadHeadAsync(socket);
        await socket.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"));
        var result = await attempt.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.StartsWith("POST /v2/run-crew HTTP/1.1", request, StringComparison.Ordinal);
        Assert.Contains("X-Api-Key: k-123", request, StringComparison.Ordinal);
        Assert.Contains("Idempotency-Key: run:user", request, StringComparison.Ordinal);
        Assert.Equal((CrewAttemptOutcome.Answered, "{}"), (result.Outcome, result.ResponseJson));
        Assert.Equal((5, 2), (endpoint.MaxConcurrency, endpoint.MaxAttempts));
    }

    [Fact]
    public async Task A_configured_endpoint_refusing_connections_is_a_transient_attempt_within_its_own_timeout()
    {
        int port;
        using (var closed = new TcpListener(IPAddress.Loopback, 0))
        {
            closed.Start();
            port = ((IPEndPoint)closed.LocalEndpoint).Port;
        }

        await using var provider = Provider(new()
        {
            ["CREW_ENDPOINTS:down:Url"] = $"http://127.0.0.1:{port}/run-crew",
            ["CREW_ENDPOINTS:down:TimeoutSeconds"] = "3",
        });
        var endpoint = provider.GetRequiredService<CrewEndpoints>().For("down");

        var result = await provider.GetRequiredService<CrewApiInvoker>().AttemptAsync(endpoint, new CrewRequest("a", null), "k", CancellationToken.None);

        Assert.Equal(CrewAttemptOutcome.Transient, result.Outcome);
        Assert.StartsWith("connection error", result.Reason, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(3), endpoint.AttemptTimeout);
        Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<CrewEndpoints>().For("unknown"));
    }

    private static async Task<string> ReadHeadAsync(Socket socket)
    {
        var buffer = new byte[16384];
        var text = new StringBuilder();
        while (!text.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(10));
            if (read == 0)
            {
                break;
            }

            text.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        return text.ToString();
    }
}
