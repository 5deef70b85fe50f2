using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Gateway.Tests.Support;

/// <summary>
/// The gateway in process, its settings given as they would be by environment variables. The in-memory server gives
/// a request no peer address; <paramref name="peer"/> sets one, as a TCP connection from that address would.
/// </summary>
public sealed class GatewayFactory(IReadOnlyDictionary<string, string?> settings, IPAddress? peer = null) : ServiceApp<Program>(settings)
{
    public const string Token = "test-admin-token";

    /// <summary>
    /// Settings for a gateway in front of the given backends, probing them every 250 ms so health changes show at once.
    /// The webhooks cluster goes to the scheduler's backend: the gateway's tests look at two backends, and its readiness
    /// waits for every cluster.
    /// </summary>
    public static Dictionary<string, string?> SettingsFor(string schedulerUrl, string responseStoreUrl) => new()
    {
        ["CREW_ADMIN_TOKEN"] = Token,
        ["GATEWAY_SCHEDULER_URL"] = schedulerUrl,
        ["GATEWAY_RESPONSE_STORE_URL"] = responseStoreUrl,
        ["GATEWAY_WEBHOOKS_URL"] = schedulerUrl,
        ["GATEWAY_CREW_CALLER_URL"] = schedulerUrl,
        ["ReverseProxy:Clusters:scheduler:HealthCheck:Active:Interval"] = "00:00:00.250",
        ["ReverseProxy:Clusters:response-store:HealthCheck:Active:Interval"] = "00:00:00.250",
        ["ReverseProxy:Clusters:webhooks:HealthCheck:Active:Interval"] = "00:00:00.250",
        ["ReverseProxy:Clusters:crew-caller:HealthCheck:Active:Interval"] = "00:00:00.250",
    };

    public CapturedLogs Logs { get; } = new();

    public HttpClient CreateAuthorizedClient(string token = Token)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>
    /// Starts the gateway expecting it to refuse: a setting that fails validation (<see cref="OptionsValidationException"/>)
    /// or that cannot be read as its type (the configuration binder's <see cref="InvalidOperationException"/>).
    /// </summary>
    public Exception StartupFailure()
    {
        var error = Record.Exception(() => CreateClient());
        Assert.NotNull(error);
        Assert.True(
            error.GetType() == typeof(OptionsValidationException) || error.GetType() == typeof(InvalidOperationException),
            $"expected the gateway to refuse its settings, got {error}");
        return error;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(services => services.AddSingleton<ILoggerProvider>(Logs));
        if (peer is not null)
        {
            builder.ConfigureServices(services => services.AddSingleton<IStartupFilter>(new PeerAddress(peer)));
        }
    }

    private sealed class PeerAddress(IPAddress peer) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextStep) =>
            {
                context.Connection.RemoteIpAddress = peer;
                return nextStep(context);
            });
            next(app);
        };
    }
}

public static class EnvelopeAssertions
{
    /// <summary>The contract's failure envelope: JSON <c>{"success":false,"error":"..."}</c>, nothing else.</summary>
    public static async Task<string> ReadErrorEnvelopeAsync(this HttpResponseMessage response)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(body.GetProperty("success").GetBoolean());
        var error = body.GetProperty("error").GetString();
        Assert.False(string.IsNullOrWhiteSpace(error));
        Assert.DoesNotContain("127.0.0.1", error, StringComparison.Ordinal);
        return error!;
    }
}
