extern alias crewcaller;
extern alias gateway;
extern alias responsestore;
extern alias scheduler;

using System.Net.Http.Headers;
using System.Net.Http.Json;
using CrewPlatform.FakeCrewApi;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.Testing;
using Xunit.Abstractions;

namespace CrewPlatform.Monitoring;

/// <summary>
/// The four services in this process on real Kestrel ports over the fixture's database and virtual host, the fake crew
/// API, and a real Prometheus scraping every service's /metrics (the gateway's on its management port) with the
/// repository's alert rules.
/// </summary>
public sealed class MonitoredStack : RealInfrastructure
{
    public const string Token = "monitoring-test-admin-token";

    private readonly List<IDisposable> apps = [];

    public FakeCrewApiHost Fake { get; private set; } = null!;

    public HttpClient Gateway { get; private set; } = null!;

    /// <summary>The gateway's management address, where its /metrics is (GATEWAY_MANAGEMENT_URLS).</summary>
    public Uri GatewayManagement { get; private set; } = null!;

    public PrometheusServer Prometheus { get; private set; } = null!;

    protected override IReadOnlyList<ServiceSchema> MigratedSchemas { get; } =
    [
        ServiceSchema.Of<scheduler::CrewPlatform.Scheduler.Persistence.SchedulerDbContext>(scheduler::CrewPlatform.Scheduler.Persistence.SchedulerDbContext.Schema),
        ServiceSchema.Of<crewcaller::CrewPlatform.CrewCaller.Persistence.CrewCallerDbContext>(crewcaller::CrewPlatform.CrewCaller.Persistence.CrewCallerDbContext.Schema),
        ServiceSchema.Of<responsestore::CrewPlatform.ResponseStore.Persistence.ResponseStoreDbContext>(responsestore::CrewPlatform.ResponseStore.Persistence.ResponseStoreDbContext.HistorySchema),
    ];

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await AddUsersAsync([("monitored-user", "a bakery in Lyon", "more weekday customers")]);
        Fake = await FakeCrewApiHost.StartAsync();

        var quiet = new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Warning", ["CREW_API_URL"] = Fake.RunCrewUrl.ToString() };
        var scheduler = Start(new ServiceApp<scheduler::Program>(this, quiet));
        var crewCaller = Start(new ServiceApp<crewcaller::Program>(this, quiet));
        var responseStore = Start(new ServiceApp<responsestore::Program>(this, quiet));
        GatewayManagement = new Uri($"http://127.0.0.1:{LoopbackPort.Free()}");
        var gateway = Start(new ServiceApp<gateway::Program>(new Dictionary<string, string?>(quiet)
        {
            ["CREW_ADMIN_TOKEN"] = Token,
            ["GATEWAY_SCHEDULER_URL"] = scheduler.ToString().TrimEnd('/'),
            ["GATEWAY_RESPONSE_STORE_URL"] = responseStore.ToString().TrimEnd('/'),
            ["GATEWAY_MANAGEMENT_URLS"] = GatewayManagement.ToString().TrimEnd('/'),
        }));

        Gateway = new HttpClient { BaseAddress = gateway };
        Gateway.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        Prometheus = PrometheusServer.Start(new Dictionary<string, string>
        {
            ["scheduler"] = scheduler.Authority,
            ["crew-caller"] = crewCaller.Authority,
            ["response-store"] = responseStore.Authority,
            ["gateway"] = GatewayManagement.Authority,
        });
    }

    private Uri Start<TProgram>(ServiceApp<TProgram> app) where TProgram : class
    {
        apps.Add(app);
        return app.StartOnKestrel();
    }

    public override async Task DisposeAsync()
    {
        Prometheus?.Dispose();
        Gateway?.Dispose();
        foreach (var app in Enumerable.Reverse(apps))
        {
            app.Dispose();
        }

        if (Fake is not null)
        {
            await Fake.DisposeAsync();
        }

        await base.DisposeAsync();
    }
}

public sealed class PrometheusScrapeTests(MonitoredStack stack, ITestOutputHelper output) : IClassFixture<MonitoredStack>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Prometheus_scrapes_every_service_loads_the_alert_rules_and_sees_a_run_in_the_domain_metrics()
    {
        await Eventually.HoldsAsync(
            async () => await stack.Prometheus.TargetHealthAsync() is { Count: 4 } health && health.Values.All(h => h == "up"),
            "Prometheus reports all four services' /metrics up", Timeout);

        var runId = await LocalStackScript.RunNowAsync(stack.Gateway);
        output.WriteLine($"run {runId} started through the gateway");

        // Each service's metrics come from its own target; in this one process another service's /metrics could show them too.
        await Eventually.HoldsAsync(async () => await stack.Prometheus.QueryAsync("""crew_calls_total{job="crew-caller",outcome="succeeded"}""") == 1,
            "Prometheus saw CrewCaller's successful crew call", Timeout);
        await Eventually.HoldsAsync(async () => await stack.Prometheus.QueryAsync("""response_store_answers_total{job="response-store",result="stored"}""") == 1,
            "Prometheus saw ResponseStore store the answer", Timeout);
        await Eventually.HoldsAsync(async () => await stack.Prometheus.QueryAsync("""scheduler_runs_total{job="scheduler",status="completed"}""") == 1,
            "Prometheus saw the Scheduler complete the run", Timeout);
        await Eventually.HoldsAsync(async () => await stack.Prometheus.QueryAsync("""crew_call_duration_seconds_count{job="crew-caller",outcome="succeeded"}""") == 1,
            "the crew call's duration is a histogram in seconds", Timeout);
        Assert.Equal(0, await stack.Prometheus.QueryAsync("""crew_circuit_open{job="crew-caller",endpoint="default"}"""));
        Assert.NotNull(await stack.Prometheus.QueryAsync("""scheduler_run_progress_age_seconds{job="scheduler"}"""));

        // The schedule's next due time, which the DueRunNotStarted alert watches, once an operator starts it (hourly).
        using (var start = await stack.Gateway.PostAsJsonAsync("/api/scheduler", new { action = "start", intervalMinutes = 60 }))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, start.StatusCode);
        }

        await Eventually.HoldsAsync(
            async () => await stack.Prometheus.QueryAsync("""scheduler_next_due_timestamp_seconds{job="scheduler"} - time()""") is > 3500 and <= 3600,
            "Prometheus sees the schedule due in an hour", Timeout);

        var expected = new[] { "ServiceDown", "RunFailed", "DueRunNotStarted", "RunWithoutProgress", "CrewErrorRateHigh", "CrewApiUnavailable", "QueueWithoutConsumer", "MessagesParkedInErrorQueue", "CrewBudgetExhausted" };
        await Eventually.HoldsAsync(
            async () => await stack.Prometheus.AlertRulesAsync() is var rules && expected.All(name => rules.GetValueOrDefault(name) == "ok"),
            "every alert rule of deploy/prometheus/alerts.yml is loaded and evaluates without error", Timeout);
    }

    [Fact]
    public async Task The_gateways_metrics_need_no_credential_on_its_management_port_and_are_not_on_its_public_port()
    {
        // Asked on the public port first: the request histogram has a series only once the gateway has served a request.
        foreach (var path in new[] { "/metrics", "/api/metrics" })
        {
            using var onPublicPort = await stack.Gateway.GetAsync(path);
            Assert.Equal(System.Net.HttpStatusCode.NotFound, onPublicPort.StatusCode);
        }

        using var anonymous = new HttpClient { BaseAddress = stack.GatewayManagement };
        await Eventually.HoldsAsync(
            async () =>
            {
                using var metrics = await anonymous.GetAsync("/metrics");
                Assert.Equal(System.Net.HttpStatusCode.OK, metrics.StatusCode);
                return (await metrics.Content.ReadAsStringAsync()).Contains("http_server_request_duration_seconds", StringComparison.Ordinal);
            },
            "the gateway's management port serves its request histogram without a credential", Timeout);
    }
}
