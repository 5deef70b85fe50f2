extern alias GatewayService;
extern alias ResponseStoreService;
extern alias SchedulerService;
extern alias WebhooksService;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CrewPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy.Forwarder;

namespace CrewPlatform.ApiFuzz;

/// <summary>
/// The Scheduler, the ResponseStore and the Webhooks service in process over this fixture's own database and virtual
/// host, with a few users, stored answers, a run and a webhook subscription so that ids exist, and gateways in front of
/// them whose proxy forwards in memory.
/// Writes the fuzz summary to <c>TestResults/fuzz-summary.txt</c> when it ends.
/// </summary>
public sealed class FuzzStack : RealInfrastructure
{
    public const int Seed = 20261129;
    public const string Token = "fuzz-admin-token";
    public const string UserUid = "fuzz-user-1";

    /// <summary>Thousands of requests: only warnings and errors are logged (an unhandled exception still is).</summary>
    private static readonly Dictionary<string, string?> QuietLogs = new()
    {
        ["Logging:LogLevel:Default"] = "Warning",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
    };

    private readonly List<string> summary = [];

    public ServiceApp<SchedulerService::Program> Scheduler { get; private set; } = null!;

    public ServiceApp<ResponseStoreService::Program> ResponseStore { get; private set; } = null!;

    public ServiceApp<WebhooksService::Program> Webhooks { get; private set; } = null!;

    public ValidInputs Valid { get; private set; } = null!;

    /// <summary>Plays the CrewCaller for the cancel API, which waits until a crew caller has recorded a cancel.</summary>
    private BusListener crewCaller = null!;

    protected override IReadOnlyList<ServiceSchema> MigratedSchemas { get; } =
    [
        ServiceSchema.Of<SchedulerService::CrewPlatform.Scheduler.Persistence.SchedulerDbContext>(SchedulerService::CrewPlatform.Scheduler.Persistence.SchedulerDbContext.Schema),
        ServiceSchema.Of<ResponseStoreService::CrewPlatform.ResponseStore.Persistence.ResponseStoreDbContext>(ResponseStoreService::CrewPlatform.ResponseStore.Persistence.ResponseStoreDbContext.HistorySchema),
        ServiceSchema.Of<WebhooksService::CrewPlatform.Webhooks.Persistence.WebhooksDbContext>(WebhooksService::CrewPlatform.Webhooks.Persistence.WebhooksDbContext.Schema),
    ];

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await AddUsersAsync(Enumerable.Range(1, 5).Select(i => ($"fuzz-user-{i}", (string?)"We sell bikes", (string?)"Sell more")));
        crewCaller = await new BusListener(this)
            .Answer<Contracts.CrewRunCancelled, Contracts.CrewRunCancelRecorded>("fuzz-crew-caller", cancel => new() { RunId = cancel.RunId })
            .StartAsync();

        Scheduler = new ServiceApp<SchedulerService::Program>(this, new Dictionary<string, string?>(QuietLogs) { ["CREW_API_URL"] = "http://crew.test:9999/run-crew" });
        ResponseStore = new ServiceApp<ResponseStoreService::Program>(this, QuietLogs);
        // Subscriptions to a loopback URL (an IP literal, so that no request waits on DNS); no event is sent to them.
        Webhooks = new ServiceApp<WebhooksService::Program>(this, new Dictionary<string, string?>(QuietLogs) { ["WEBHOOKS_ALLOW_PRIVATE_TARGETS"] = "true" });
        _ = Scheduler.Server;
        _ = ResponseStore.Server;
        _ = Webhooks.Server;

        var answerIds = new List<int>();
        using var responseStore = ResponseStore.CreateClient();
        for (var i = 0; i < 8; i++)
        {
            using var created = await responseStore.PostAsync("/api/crew-responses", Json($$$"""{"userUid":"{{{UserUid}}}","responseData":{"n":{{{i}}}}}"""));
            created.EnsureSuccessStatusCode();
            answerIds.Add((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("id").GetInt32());
        }

        using var scheduler = Scheduler.CreateClient();
        using var run = await scheduler.PostAsync("/api/scheduler", Json("""{"action":"run-now"}"""));
        run.EnsureSuccessStatusCode();
        var runId = (await run.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("runId").GetGuid();

        using var webhooks = Webhooks.CreateClient();
        using var webhook = await webhooks.PostAsync("/api/webhooks", Json($"{{\"url\":\"{ValidInputs.WebhookUrl}\",\"events\":[\"crew-response.stored\"]}}"));
        webhook.EnsureSuccessStatusCode();
        var webhookId = (await webhook.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("webhook").GetProperty("id").GetGuid();

        Valid = new ValidInputs(UserUid, answerIds, runId, webhookId);
    }

    /// <summary>A gateway in front of the services; its proxy calls their in-memory servers.</summary>
    public ServiceApp<GatewayService::Program> Gateway(int rateLimitPerMinute) => new(
        new Dictionary<string, string?>(QuietLogs)
        {
            ["CREW_ADMIN_TOKEN"] = Token,
            ["CREW_RATE_LIMIT_PER_MINUTE"] = rateLimitPerMinute.ToString(CultureInfo.InvariantCulture),
            ["GATEWAY_SCHEDULER_URL"] = "http://scheduler.fuzz",
            ["GATEWAY_RESPONSE_STORE_URL"] = "http://response-store.fuzz",
            ["GATEWAY_CREW_CALLER_URL"] = "http://crew-caller.fuzz",
            ["GATEWAY_MANAGEMENT_URLS"] = $"http://127.0.0.1:{LoopbackPort.Free()}", // not the fixed default: stacks run side by side
        },
        services => services.AddSingleton<IForwarderHttpClientFactory>(new InMemoryBackends(new Dictionary<string, Func<HttpMessageHandler>>
        {
            ["scheduler"] = () => Scheduler.Server.CreateHandler(),
            ["response-store"] = () => ResponseStore.Server.CreateHandler(),
            ["webhooks"] = () => Webhooks.Server.CreateHandler(),
            ["crew-caller"] = () => Scheduler.Server.CreateHandler(), // nor a CrewCaller: its route answers the scheduler's 404
        })));

    public void Report(string line)
    {
        lock (summary)
        {
            summary.Add(line);
        }
    }

    public override async Task DisposeAsync()
    {
        WriteSummary();
        await Webhooks.DisposeAsync();
        await ResponseStore.DisposeAsync();
        await Scheduler.DisposeAsync();
        await crewCaller.DisposeAsync();
        await base.DisposeAsync();
    }

    private void WriteSummary()
    {
        if (summary.Count == 0)
        {
            return;
        }

        var path = RepositoryFile("TestResults/fuzz-summary.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllLines(path, summary.Order(StringComparer.Ordinal));
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private sealed class InMemoryBackends(IReadOnlyDictionary<string, Func<HttpMessageHandler>> handlers) : IForwarderHttpClientFactory
    {
        public HttpMessageInvoker CreateClient(ForwarderHttpClientContext context) => new(handlers[context.ClusterId](), disposeHandler: true);
    }
}
