using System.Net.Sockets;
using System.Text;
using CrewPlatform.Gateway.Tests.Support;

namespace CrewPlatform.Gateway.Tests;

/// <summary>
/// The gateway's /metrics is on its management port (GATEWAY_MANAGEMENT_URLS) only. The requests go over a raw socket:
/// HttpClient would remove the dot segments before sending, and a front proxy that routes /api/* by the path as sent
/// passes them on as they are.
/// </summary>
public sealed class ManagementPortTests(Backends backends) : IClassFixture<Backends>
{
    /// <summary>Every spelling of the metrics path a client could send to the public port.</summary>
    private static readonly string[] MetricsSpellings =
    [
        "/metrics",
        "/metrics/",
        "/metrics?format=text",
        "/METRICS",
        "//metrics",
        "/./metrics",
        "/%6detrics",
        "/api/metrics",
        "/api/../metrics",
        "/api/scheduler/../../metrics",
        "/api/%2e%2e/metrics",
        "/api/%2E%2E/metrics",
        "/api/scheduler/%2e%2e/%2e%2e/metrics",
        "/api/scheduler/.%2e/%2e./metrics",
        "/api/scheduler/..%2f..%2fmetrics",
        "/api/scheduler/%2e%2e%2f%2e%2e%2fmetrics",
        "/api/crew-responses/..\\..\\metrics",
    ];

    [Fact]
    public async Task Metrics_are_served_on_the_management_port_and_under_no_spelling_on_the_public_port()
    {
        var management = new Uri(StubBackend.UnusedUrl());
        var settings = backends.GatewaySettings();
        settings["GATEWAY_MANAGEMENT_URLS"] = management.ToString().TrimEnd('/');
        await using var gateway = new GatewayFactory(settings);
        var publicUrl = gateway.StartOnKestrel();

        var targets = MetricsSpellings
            .Append($"http://{management.Authority}/metrics") // the absolute form, naming the management port
            .ToList();
        var leaks = new List<string>();
        foreach (var method in new[] { "GET", "POST" })
        {
            foreach (var target in targets)
            {
                foreach (var credential in new[] { null, GatewayFactory.Token })
                {
                    // The Host header names the management port too: it must not count, only the connection's port does.
                    var (status, response) = await SendAsync(publicUrl, method, target, management.Authority, credential);
                    if (ShowsMetrics(response) || !(IsRefusal(status, response) || (credential is not null && IsProxiedUnderApi(status, response))))
                    {
                        leaks.Add($"{method} {target} ({(credential is null ? "anonymous" : "admin")}): {status}\n{response}");
                    }
                }
            }
        }

        Assert.True(leaks.Count == 0, "the public port answered with neither a refusal nor a backend's /api/* answer:\n" + string.Join("\n\n", leaks));

        var (scrapeStatus, scrape) = await SendAsync(management, "GET", "/metrics", management.Authority, credential: null);
        Assert.Equal(200, scrapeStatus);
        Assert.True(ShowsMetrics(scrape), scrape);
        Assert.Contains("http_server_request_duration_seconds", scrape, StringComparison.Ordinal);

        // Nothing else of the gateway is on the management port.
        foreach (var other in new[] { "/api/scheduler", "/health/ready", "/docs", "/" })
        {
            var (status, response) = await SendAsync(management, "GET", other, management.Authority, GatewayFactory.Token);
            Assert.True(status == 404 && IsRefusal(status, response), $"{other} on the management port: {response}");
        }
    }

    [Theory]
    [InlineData("not a url")]
    [InlineData("127.0.0.1:9464")]
    [InlineData("http://127.0.0.1:0")]
    [InlineData("http://127.0.0.1:70000")]
    [InlineData("https://127.0.0.1:9464")]
    [InlineData("http://127.0.0.1:9464/metrics")]
    [InlineData("http://127.0.0.1:9464;unix:/tmp/metrics.sock")]
    [InlineData(";")]
    public async Task The_gateway_refuses_to_start_with_a_bad_management_address_and_names_the_setting(string value)
    {
        var settings = backends.GatewaySettings();
        settings["GATEWAY_MANAGEMENT_URLS"] = value;
        await using var gateway = new GatewayFactory(settings);

        Assert.Contains("GATEWAY_MANAGEMENT_URLS", gateway.StartupFailure().Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_public_address_on_the_management_port_stops_the_gateway_naming_the_setting()
    {
        // The same port on another address of the machine would bind, and its connections would look like management ones.
        var port = new Uri(StubBackend.UnusedUrl()).Port;
        var settings = backends.GatewaySettings();
        settings["urls"] = $"http://127.0.0.1:{port}";
        settings["GATEWAY_MANAGEMENT_URLS"] = $"http://127.0.0.2:{port}";
        await using var gateway = new GatewayFactory(settings);

        var error = Assert.Throws<InvalidOperationException>(() => gateway.StartOnKestrel());

        Assert.Contains("GATEWAY_MANAGEMENT_URLS", error.Message, StringComparison.Ordinal);
    }

    /// <summary>The gateway's own refusal: a 4xx in the contract's failure envelope.</summary>
    private static bool IsRefusal(int status, string response) =>
        status is >= 400 and < 500 && response.Contains("\"success\":false", StringComparison.Ordinal);

    /// <summary>
    /// A path still under <c>/api/</c> once the server has decoded it (<c>%2f</c> stays encoded) goes to a backend, with the
    /// credential: the stub backend echoes the path it was asked for, which must still be under /api/.
    /// </summary>
    private static bool IsProxiedUnderApi(int status, string response) =>
        status == 200 && response.Contains("\"path\":\"/api/", StringComparison.Ordinal);

    /// <summary>Prometheus' text format: every metric family has a <c># TYPE</c> line.</summary>
    private static bool ShowsMetrics(string response) => response.Contains("# TYPE ", StringComparison.Ordinal);

    /// <summary>One HTTP/1.1 request with the target exactly as given; the status and the whole response, headers included.</summary>
    private static async Task<(int Status, string Response)> SendAsync(Uri server, string method, string target, string host, string? credential)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port, timeout.Token);
        await using var stream = client.GetStream();
        var authorization = credential is null ? "" : $"Authorization: Bearer {credential}\r\n";
        var request = $"{method} {target} HTTP/1.1\r\nHost: {host}\r\n{authorization}Content-Length: 0\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), timeout.Token);

        // Connection: close: the server ends the connection once it has answered.
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var response = await reader.ReadToEndAsync(timeout.Token);
        var statusLine = response.Split("\r\n", 2)[0].Split(' ');
        return (statusLine.Length > 1 && int.TryParse(statusLine[1], out var status) ? status : 0, response);
    }
}
