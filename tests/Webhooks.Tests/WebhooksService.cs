using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.Testing;
using CrewPlatform.Webhooks.Persistence;

namespace CrewPlatform.Webhooks.Tests;

/// <summary>
/// A fresh database and virtual host for one test, the Webhooks service over them (in-process, real PostgreSQL and
/// RabbitMQ) and a bus to publish the platform's events as their owners do. Private targets are allowed, so the
/// service may call the test's receiver on 127.0.0.1; retries start after 0.2 s.
/// </summary>
public sealed class WebhooksService : RealInfrastructure
{
    public static readonly IReadOnlyDictionary<string, string?> TestSettings = new Dictionary<string, string?>
    {
        ["WEBHOOKS_ALLOW_PRIVATE_TARGETS"] = "true",
        ["WEBHOOKS_RETRY_BASE_SECONDS"] = "0.2",
        ["WEBHOOKS_POLL_MS"] = "20",
        ["WEBHOOKS_TIMEOUT_SECONDS"] = "5",
    };

    private BusListener? publisher;

    protected override IReadOnlyList<ServiceSchema> MigratedSchemas { get; } = [ServiceSchema.Of<WebhooksDbContext>(WebhooksDbContext.Schema)];

    public ServiceApp<Program> App { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public MassTransit.IBus Bus => publisher!.Bus;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await StartAsync();
        publisher = await new BusListener(this).StartAsync();
    }

    /// <summary>Starts the service (again, after <see cref="StopAsync"/>): migrations, consumers and the dispatcher.</summary>
    public Task StartAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        App = new ServiceApp<Program>(this, settings ?? TestSettings);
        Client = App.CreateClient();
        return Task.CompletedTask;
    }

    /// <summary>Stops the service the way a deployment does: the host's graceful shutdown.</summary>
    public async Task StopAsync()
    {
        Client.Dispose();
        await App.DisposeAsync();
    }

    /// <summary>Creates a subscription of the receiver and hands the receiver its secret.</summary>
    public Task<Guid> SubscribeAsync(WebhookReceiver receiver, params string[] events) => SubscribeAsync(receiver, segment: null, events);

    public Task<Guid> SubscribeAsync(WebhookReceiver receiver, string? segment, string[] events) =>
        SubscribeAsync(receiver, new { events, segment });

    /// <summary>Creates a subscription of the receiver with the fields of <paramref name="subscription"/> (all but its url).</summary>
    public async Task<Guid> SubscribeAsync(WebhookReceiver receiver, object subscription)
    {
        var body = JsonSerializer.SerializeToNode(subscription, JsonSerializerOptions.Web)!.AsObject();
        body["url"] = receiver.Url;
        using var response = await Client.PostAsJsonAsync("/api/webhooks", body);
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var data = json.RootElement.GetProperty("data");
        receiver.Secret = data.GetProperty("secret").GetString()!;
        return data.GetProperty("webhook").GetProperty("id").GetGuid();
    }

    /// <summary>The subscription as <c>GET /api/webhooks/{id}</c> shows it.</summary>
    public async Task<JsonElement> WebhookAsync(Guid subscription)
    {
        using var json = JsonDocument.Parse(await Client.GetStringAsync($"/api/webhooks/{subscription}"));
        return json.RootElement.GetProperty("data").Clone();
    }

    /// <summary>The subscription's delivery attempts as <c>GET /api/webhooks/{id}/deliveries</c> lists them, oldest first.</summary>
    public async Task<IReadOnlyList<JsonElement>> AttemptsAsync(Guid subscription)
    {
        using var json = JsonDocument.Parse(await Client.GetStringAsync($"/api/webhooks/{subscription}/deliveries"));
        return json.RootElement.GetProperty("data").EnumerateArray().Select(e => e.Clone()).Reverse().ToList();
    }

    public override async Task DisposeAsync()
    {
        if (publisher is not null)
        {
            await publisher.DisposeAsync();
        }

        Client?.Dispose();
        if (App is not null)
        {
            await App.DisposeAsync();
        }

        await base.DisposeAsync();
    }
}
