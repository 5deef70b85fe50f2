extern alias CrewCallerService;
extern alias ResponseStoreService;
extern alias SchedulerService;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using CrewPlatform.FakeCrewApi;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.Testing;
using CrewCallerDb = CrewCallerService::CrewPlatform.CrewCaller.Persistence.CrewCallerDbContext;
using ResponseStoreDb = ResponseStoreService::CrewPlatform.ResponseStore.Persistence.ResponseStoreDbContext;
using SchedulerDb = SchedulerService::CrewPlatform.Scheduler.Persistence.SchedulerDbContext;

namespace CrewPlatform.Tracing.Tests;

/// <summary>
/// The Scheduler, the CrewCaller and the ResponseStore in process on this fixture's own database and virtual host,
/// calling the fake crew API over real HTTP, with every span the three services, MassTransit and HttpClient end
/// collected by one listener (in process, the three share it: spans are told apart by source and name).
/// </summary>
public sealed class TracedStack : RealInfrastructure
{
    private static readonly Dictionary<string, string?> QuietLogs = new()
    {
        ["Logging:LogLevel:Default"] = "Warning",
    };

    private readonly List<IAsyncDisposable> started = [];
    private ActivityListener? listener;

    public ConcurrentQueue<Activity> Spans { get; } = new();

    public ServiceApp<SchedulerService::Program> Scheduler { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        // Read before the listener is added: the services' sources are created here, not inside its own callback.
        HashSet<string> sources = [.. CrewTracing.SourceNames, "MassTransit", "System.Net.Http"];
        listener = new ActivityListener
        {
            ShouldListenTo = source => sources.Contains(source.Name),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = Spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);

        await MigrateAsync<SchedulerDb>(SchedulerDb.Schema);
        await MigrateAsync<CrewCallerDb>(CrewCallerDb.Schema);
        await MigrateAsync<ResponseStoreDb>(ResponseStoreDb.HistorySchema);

        var fake = await FakeCrewApiHost.StartAsync(new Dictionary<string, string?> { ["FakeCrew:LatencyMs"] = "20" });
        started.Add(fake);
        var crewApi = new Dictionary<string, string?>(QuietLogs) { ["CREW_API_URL"] = fake.RunCrewUrl.ToString() };

        // Pages of two users, so a run of three has a fan-out of two pages.
        Scheduler = new ServiceApp<SchedulerService::Program>(this, new Dictionary<string, string?>(crewApi) { ["CREW_SCHEDULER_PAGE_SIZE"] = "2" });
        var crewCaller = new ServiceApp<CrewCallerService::Program>(this, crewApi);
        var responseStore = new ServiceApp<ResponseStoreService::Program>(this, QuietLogs);
        started.AddRange([responseStore, crewCaller, Scheduler]);
        _ = responseStore.Server;
        _ = crewCaller.Server;
        _ = Scheduler.Server;
    }

    public async Task<Guid> RunNowAsync()
    {
        using var client = Scheduler.CreateClient();
        using var response = await client.PostAsJsonAsync("/api/scheduler", new { action = "run-now" });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("runId").GetGuid();
    }

    public override async Task DisposeAsync()
    {
        foreach (var service in Enumerable.Reverse(started))
        {
            await service.DisposeAsync();
        }

        listener?.Dispose();
        await base.DisposeAsync();
    }
}

public sealed class RunTraceTests(TracedStack stack) : IClassFixture<TracedStack>
{
    private static readonly string[] Users = ["trace-user-1", "trace-user-2", "trace-user-3"];

    [Fact]
    public async Task A_runs_spans_in_all_three_services_form_one_trace_whose_id_is_the_run_id()
    {
        await stack.AddUsersAsync(Users.Select(uid => (uid, (string?)$"context of {uid}", (string?)"grow")));

        var runId = await stack.RunNowAsync();
        await Eventually.HoldsAsync(
            async () => await stack.ScalarAsync<string>("SELECT status FROM scheduler.runs WHERE id = $1", runId) == "completed",
            $"run {runId} has completed",
            TimeSpan.FromSeconds(90));

        var traceId = CrewTracing.TraceIdOf(runId);
        var run = runId.ToString();

        // Every user's answer span ends after its outcome event is published, so just after the run completed.
        List<Activity> spans = [];
        await Eventually.HoldsAsync(
            () =>
            {
                spans = stack.Spans.Where(s => s.TraceId == traceId).ToList();
                return Users.All(uid => spans.Any(s => IsSpan(s, CrewTracing.ResponseStore, "store answer", uid)));
            },
            "every user's answer span has ended",
            TimeSpan.FromSeconds(30));

        // Everything tagged with the run, in any service, is in the run's trace, and nothing else is.
        var tagged = stack.Spans.Where(s => s.GetTagItem(CrewTracing.RunIdTag) as string == run).ToList();
        Assert.All(tagged, s => Assert.Equal(traceId, s.TraceId));
        Assert.All(spans.Where(s => s.Source.Name.StartsWith("CrewPlatform.", StringComparison.Ordinal)), s => Assert.Equal(run, s.GetTagItem(CrewTracing.RunIdTag)));

        var root = Assert.Single(spans, s => IsSpan(s, CrewTracing.Scheduler, "run-now"));
        Assert.Equal(default, root.ParentSpanId);
        var pages = spans.Where(s => IsSpan(s, CrewTracing.Scheduler, "fan-out page")).ToList();
        Assert.Equal(2, pages.Count);

        var byId = spans.ToDictionary(s => s.SpanId);
        foreach (var uid in Users)
        {
            var call = Assert.Single(spans, s => IsSpan(s, CrewTracing.CrewCaller, "crew call", uid));
            var stored = Assert.Single(spans, s => IsSpan(s, CrewTracing.ResponseStore, "store answer", uid));
            var http = spans.Where(s => s.Source.Name == "System.Net.Http" && s.Kind == ActivityKind.Client).ToList();

            // The answer's span descends, across the broker, from this user's crew call, a fan-out page and the run-now.
            var ancestors = Ancestors(stored, byId);
            Assert.Contains(call, ancestors);
            Assert.Contains(ancestors, a => pages.Contains(a));
            Assert.Equal(root, ancestors[^1]);
            Assert.Contains(ancestors, a => a.Source.Name == "MassTransit" && a.Kind == ActivityKind.Consumer);

            // The crew API's HTTP request is the crew call's descendant.
            Assert.Contains(http, h => Ancestors(h, byId).Contains(call) && h.GetTagItem("url.full") is string url && url.EndsWith("/run-crew", StringComparison.Ordinal));
        }
    }

    private static bool IsSpan(Activity span, ActivitySource source, string name, string? userUid = null) =>
        span.Source == source && span.DisplayName == name && (userUid is null || span.GetTagItem(CrewTracing.UserUidTag) as string == userUid);

    /// <summary>The span's parents, nearest first, as far as the collected spans go.</summary>
    private static List<Activity> Ancestors(Activity span, Dictionary<ActivitySpanId, Activity> byId)
    {
        var chain = new List<Activity>();
        while (span.ParentSpanId != default && byId.TryGetValue(span.ParentSpanId, out var parent))
        {
            chain.Add(parent);
            span = parent;
        }

        return chain;
    }
}
