extern alias CrewCallerService;
extern alias GatewayService;
extern alias ResponseStoreService;
extern alias SchedulerService;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CrewPlatform.FakeCrewApi;
using CrewPlatform.Testing;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy.Forwarder;
using CrewCallerDb = CrewCallerService::CrewPlatform.CrewCaller.Persistence.CrewCallerDbContext;
using ResponseStoreDb = ResponseStoreService::CrewPlatform.ResponseStore.Persistence.ResponseStoreDbContext;
using SchedulerDb = SchedulerService::CrewPlatform.Scheduler.Persistence.SchedulerDbContext;
using SessionAudit = GatewayService::CrewPlatform.Gateway.Dashboard.SessionAudit;

namespace CrewPlatform.Dashboard.Tests;

/// <summary>
/// The whole platform in process over this fixture's own database and virtual host: the fake crew API and the gateway
/// on real Kestrel ports (Chromium reaches the gateway), the Scheduler, CrewCaller and ResponseStore on in-memory
/// servers, the gateway's proxy forwarding to them in memory. Six users, and three stored answers to search. Every
/// call costs <see cref="CostPerCall"/>, so runs have a spend to show.
/// </summary>
public sealed class DashboardStack : RealInfrastructure
{
    public const string AdminKey = "dashboard-admin-key-0123456789";
    public const string ReadKey = "dashboard-read-key-0123456789";

    /// <summary>A second admin key, named <c>oncall</c> (the first is named <c>ops</c>), so the audit trail holds two actors.</summary>
    public const string OnCallKey = "dashboard-oncall-key-0123456789";

    public const int UserCount = 6;
    public const string AnsweredUser = "dash-answered";
    public const decimal CostPerCall = 0.03m;

    private static readonly Dictionary<string, string?> QuietLogs = new()
    {
        ["Logging:LogLevel:Default"] = "Warning",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
    };

    private ServiceApp<SchedulerService::Program> scheduler = null!;
    private ServiceApp<CrewCallerService::Program> crewCaller = null!;
    private ServiceApp<ResponseStoreService::Program> responseStore = null!;
    private ServiceApp<GatewayService::Program> gateway = null!;

    public FakeCrewApiHost Fake { get; private set; } = null!;

    protected override IReadOnlyList<ServiceSchema> MigratedSchemas { get; } =
        [ServiceSchema.Of<SchedulerDb>(SchedulerDb.Schema), ServiceSchema.Of<CrewCallerDb>(CrewCallerDb.Schema), ServiceSchema.Of<ResponseStoreDb>(ResponseStoreDb.HistorySchema)];

    /// <summary>While set, the gateway's CrewCaller backend answers <c>/api/crew-caller/*</c> with this status and JSON instead of the real service's.</summary>
    public (System.Net.HttpStatusCode Status, string Json)? CrewCallerStubAnswer { get; set; }

    /// <summary>Where the gateway listens, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri GatewayUrl { get; private set; } = null!;

    public static IEnumerable<string> UserUids => Enumerable.Range(1, UserCount).Select(i => $"dash-user-{i}");

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await AddUsersAsync(UserUids.Append(AnsweredUser).Select(uid => (uid, (string?)$"{uid} sells bikes", (string?)"Sell more")));

        // Slow enough that a run's progress is seen moving, fast enough for a test.
        Fake = await FakeCrewApiHost.StartAsync(new Dictionary<string, string?> { ["FakeCrew:LatencyMs"] = "400" });
        var crew = new Dictionary<string, string?>(QuietLogs)
        {
            ["CREW_API_URL"] = Fake.RunCrewUrl.ToString(),
            ["CREW_COST_PER_CALL"] = CostPerCall.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        scheduler = new ServiceApp<SchedulerService::Program>(this, crew);
        crewCaller = new ServiceApp<CrewCallerService::Program>(this, new Dictionary<string, string?>(crew) { ["CREW_MAX_CONCURRENCY"] = "2" });
        responseStore = new ServiceApp<ResponseStoreService::Program>(this, QuietLogs);
        _ = scheduler.Server;
        _ = crewCaller.Server;
        _ = responseStore.Server;

        using (var answers = responseStore.CreateClient())
        {
            for (var i = 1; i <= 3; i++)
            {
                using var created = await answers.PostAsync("/api/crew-responses", new StringContent(
                    $$$"""{"userUid":"{{{AnsweredUser}}}","requestContext":"Bikes, answer {{{i}}}","requestGoal":"Sell more","responseData":{"Questions":[{"Question 1":"Who buys?","Answers":["Commuters {{{i}}}"]}]}}""",
                    Encoding.UTF8, "application/json"));
                created.EnsureSuccessStatusCode();
            }
        }

        gateway = new ServiceApp<GatewayService::Program>(
            new Dictionary<string, string?>(QuietLogs)
            {
                ["CREW_API_KEYS"] = $"ops:admin:{AdminKey},viewer:read:{ReadKey},oncall:admin:{OnCallKey}",
                ["CREW_RATE_LIMIT_PER_MINUTE"] = "0",
                ["GATEWAY_RABBITMQ_MANAGEMENT_URL"] = new Uri(ManagementApi, "/").ToString(),
                ["GATEWAY_RABBITMQ_VHOST"] = RabbitMq.VirtualHost,
                ["GATEWAY_SCHEDULER_URL"] = "http://scheduler.dashboard",
                ["GATEWAY_RESPONSE_STORE_URL"] = "http://response-store.dashboard",
                ["GATEWAY_CREW_CALLER_URL"] = "http://crew-caller.dashboard",
                ["GATEWAY_MANAGEMENT_URLS"] = $"http://127.0.0.1:{LoopbackPort.Free()}", // not the fixed default: stacks run side by side
            },
            services =>
            {
                services.AddSingleton<IForwarderHttpClientFactory>(new InMemoryBackends(new Dictionary<string, Func<HttpMessageHandler>>
                {
                    ["scheduler"] = () => scheduler.Server.CreateHandler(),
                    ["response-store"] = () => responseStore.Server.CreateHandler(),
                    ["webhooks"] = () => scheduler.Server.CreateHandler(), // no webhooks service here: any ready backend lets the gateway be ready
                    ["crew-caller"] = () => new CrewCallerOrStub(this, crewCaller.Server.CreateHandler()),
                }));
                // A dashboard sign-in is recorded by the Scheduler, which is in memory here like the proxy's backends.
                services.AddHttpClient(SessionAudit.ClientName).ConfigurePrimaryHttpMessageHandler(() => scheduler.Server.CreateHandler());
            });
        gateway.UseKestrel(0);
        gateway.StartServer();
        var address = gateway.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        GatewayUrl = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/') + "/");
    }

    /// <summary>A client of the gateway with the admin key, as curl would call it.</summary>
    public HttpClient AdminClient() => Client(AdminKey);

    /// <summary>A client of the gateway with this API key, as curl would call it.</summary>
    public HttpClient Client(string key)
    {
        var client = new HttpClient { BaseAddress = GatewayUrl };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public async Task<JsonElement> AdminCallAsync(HttpMethod method, string path, object? body = null)
    {
        using var client = AdminClient();
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{method} {path} answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>The envelope's error text of a call the API refuses, to compare with what the page shows.</summary>
    public async Task<string> AdminErrorAsync(HttpMethod method, string path, object body)
    {
        using var client = AdminClient();
        using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) };
        using var response = await client.SendAsync(request);
        Assert.True((int)response.StatusCode is >= 400 and < 500, $"{method} {path} answered {(int)response.StatusCode}");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;
    }

    /// <summary>Starts a run for the given users and waits until it completed; its id.</summary>
    public Task<string> CompletedRunAsync(params string[] userUids) => CompletedRunNowAsync(new { action = "run-now", userUids });

    /// <summary>Starts a run with this run-now body and waits until it completed; its id.</summary>
    public async Task<string> CompletedRunNowAsync(object runNow)
    {
        var accepted = await AdminCallAsync(HttpMethod.Post, "/api/scheduler", runNow);
        var runId = accepted.GetProperty("data").GetProperty("runId").GetString()!;
        await Eventually.HoldsAsync(
            async () => (await AdminCallAsync(HttpMethod.Get, $"/api/scheduler/runs/{runId}")).GetProperty("data").GetProperty("status").GetString() == "completed",
            $"run {runId} completed", TimeSpan.FromSeconds(90));
        return runId;
    }

    public override async Task DisposeAsync()
    {
        await gateway.DisposeAsync();
        await crewCaller.DisposeAsync();
        await scheduler.DisposeAsync();
        await responseStore.DisposeAsync();
        await Fake.DisposeAsync();
        await base.DisposeAsync();
    }

    /// <summary>The real CrewCaller, or the stub answer while a test sets one (YARP keeps one client per cluster, so the choice is made per request).</summary>
    private sealed class CrewCallerOrStub(DashboardStack stack, HttpMessageHandler real) : DelegatingHandler(real)
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            stack.CrewCallerStubAnswer is { } answer && request.RequestUri!.AbsolutePath.StartsWith("/api/crew-caller/", StringComparison.Ordinal)
                ? Task.FromResult(new HttpResponseMessage(answer.Status) { Content = new StringContent(answer.Json, Encoding.UTF8, "application/json") })
                : base.SendAsync(request, cancellationToken);
    }

    private sealed class InMemoryBackends(IReadOnlyDictionary<string, Func<HttpMessageHandler>> handlers) : IForwarderHttpClientFactory
    {
        public HttpMessageInvoker CreateClient(ForwarderHttpClientContext context) => new(handlers[context.ClusterId](), disposeHandler: true);
    }
}
