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
using Microsoft.Extensions.DependencyInjection;
using SchedulerService::CrewPlatform.Scheduler.Runs;
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
    public static readonly string[] Users = ["trace-user-1", "trace-user-2", "trace-user-3"];

    /// <summary>What the test itself does, e.g. standing in for the reconciler's pass.</summary>
    public static readonly ActivitySource TestSource = new("CrewPlatform.Tracing.Tests");

    private static readonly Dictionary<string, string?> QuietLogs = new()
    {
        ["Logging:LogLevel:Default"] = "Warning",
    };

    private readonly List<IAsyncDisposable> started = [];
    private ActivityListener? listener;

    public ConcurrentQueue<Activity> Spans { get; } = new();

    protected override IReadOnlyList<ServiceSchema> MigratedSchemas { get; } =
        [ServiceSchema.Of<SchedulerDb>(SchedulerDb.Schema), ServiceSchema.Of<CrewCallerDb>(CrewCallerDb.Schema), ServiceSchema.Of<ResponseStoreDb>(ResponseStoreDb.HistorySchema)];

    public ServiceApp<SchedulerService::Program> Scheduler { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        // Read before the listener is added: the services' sources are created here, not inside its own callback.
        HashSet<string> sources = [.. CrewTracing.SourceNames, "MassTransit", "System.Net.Http", TestSource.Name];
        listener = new ActivityListener
        {
            ShouldListenTo = source => sources.Contains(source.Name),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = Spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);

        await AddUsersAsync(Users.Select(uid => (uid, (string?)$"context of {uid}", (string?)"grow")));

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

    /// <summary>A run-now of every user (two pages), once it has completed.</summary>
    public async Task<Guid> RunNowToCompletionAsync()
    {
        using var client = Scheduler.CreateClient();
        using var response = await client.PostAsJsonAsync("/api/scheduler", new { action = "run-now" });
        response.EnsureSuccessStatusCode();
        var runId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("runId").GetGuid();
        await Eventually.HoldsAsync(
            async () => await ScalarAsync<string>("SELECT status FROM scheduler.runs WHERE id = $1", runId) == "completed",
            $"run {runId} has completed",
            TimeSpan.FromSeconds(90));
        return runId;
    }

    /// <summary>The run's spans, once each user has as many answer spans as given (they end just after the run completes).</summary>
    public async Task<List<Activity>> RunSpansAsync(Guid runId, int answersPerUser = 1)
    {
        var traceId = CrewTracing.TraceIdOf(runId);
        List<Activity> spans = [];
        await Eventually.HoldsAsync(
            () =>
            {
                spans = Spans.Where(s => s.TraceId == traceId).ToList();
                return Users.All(uid => spans.Count(s => IsSpan(s, CrewTracing.ResponseStore, "store answer", uid)) >= answersPerUser);
            },
            $"every user's {answersPerUser} answer span(s) have ended",
            TimeSpan.FromSeconds(30));
        return spans;
    }

    public static bool IsSpan(Activity span, ActivitySource source, string name, string? userUid = null) =>
        span.Source == source && span.DisplayName == name && (userUid is null || span.GetTagItem(CrewTracing.UserUidTag) as string == userUid);

    /// <summary>The span's parents, nearest first, as far as the collected spans go.</summary>
    public static List<Activity> Ancestors(Activity span, IEnumerable<Activity> spans)
    {
        var byId = spans.ToDictionary(s => s.SpanId);
        var chain = new List<Activity>();
        while (span.ParentSpanId != default && byId.TryGetValue(span.ParentSpanId, out var parent))
        {
            chain.Add(parent);
            span = parent;
        }

        return chain;
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
    [Fact]
    public async Task A_runs_spans_in_all_three_services_form_one_trace_whose_id_is_the_run_id()
    {
        var runId = await stack.RunNowToCompletionAsync();
        var spans = await stack.RunSpansAsync(runId);
        var traceId = CrewTracing.TraceIdOf(runId);
        var run = runId.ToString();

        // Everything tagged with the run, in any service, is in the run's trace, and everything of ours there is tagged.
        var tagged = stack.Spans.Where(s => s.GetTagItem(CrewTracing.RunIdTag) as string == run).ToList();
        Assert.All(tagged, s => Assert.Equal(traceId, s.TraceId));
        Assert.All(spans.Where(s => CrewTracing.SourceNames.Contains(s.Source.Name)), s => Assert.Equal(run, s.GetTagItem(CrewTracing.RunIdTag)));

        // The run-now is the top of the trace: it has no parent, not even the HTTP request it answered.
        var root = Assert.Single(spans, s => TracedStack.IsSpan(s, CrewTracing.Scheduler, "run-now"));
        Assert.Equal(default, root.ParentSpanId);
        var pages = spans.Where(s => TracedStack.IsSpan(s, CrewTracing.Scheduler, "fan-out page")).ToList();
        Assert.Equal(2, pages.Count);

        foreach (var uid in TracedStack.Users)
        {
            var call = Assert.Single(spans, s => TracedStack.IsSpan(s, CrewTracing.CrewCaller, "crew call", uid));
            var stored = Assert.Single(spans, s => TracedStack.IsSpan(s, CrewTracing.ResponseStore, "store answer", uid));

            // The answer's span descends, across the broker, from this user's crew call, a fan-out page and the run-now.
            var ancestors = TracedStack.Ancestors(stored, spans);
            Assert.Contains(call, ancestors);
            Assert.Contains(ancestors, pages.Contains);
            Assert.Equal(root, ancestors[^1]);
            Assert.Contains(ancestors, a => a.Source.Name == "MassTransit" && a.Kind == ActivityKind.Consumer);

            // The crew API's HTTP request is the crew call's descendant.
            Assert.Contains(spans, h => h.Source.Name == "System.Net.Http" && h.Kind == ActivityKind.Client
                && h.GetTagItem("url.full") is string url && url.EndsWith("/run-crew", StringComparison.Ordinal)
                && TracedStack.Ancestors(h, spans).Contains(call));
        }
    }

    [Fact]
    public async Task A_command_sent_again_later_joins_the_runs_trace_and_links_the_span_that_sent_it()
    {
        var runId = await stack.RunNowToCompletionAsync();
        await stack.RunSpansAsync(runId);

        // As the reconciler re-sends a lost outcome's command: from outside the run's trace.
        var uid = TracedStack.Users[0];
        Activity? pass;
        using (pass = TracedStack.TestSource.StartActivity("reconciler pass"))
        await using (var scope = stack.Scheduler.Services.CreateAsyncScope())
        {
            Assert.NotNull(pass);
            await scope.ServiceProvider.GetRequiredService<RunCrewCommands>().SendAsync(runId, [new DispatchedUser(uid, ReplayFailed: false)], CancellationToken.None);
        }

        // The crew caller re-announces the stored answer, and the response store sees it again: all in the run's trace.
        List<Activity> spans = [];
        await Eventually.HoldsAsync(
            () =>
            {
                spans = stack.Spans.Where(s => s.TraceId == CrewTracing.TraceIdOf(runId)).ToList();
                return spans.Count(s => TracedStack.IsSpan(s, CrewTracing.ResponseStore, "store answer", uid)) == 2;
            },
            "the re-sent command's answer span has ended",
            TimeSpan.FromSeconds(60));

        var resent = Assert.Single(spans, s => TracedStack.IsSpan(s, CrewTracing.Scheduler, "send commands"));
        Assert.Equal(default, resent.ParentSpanId);
        Assert.Contains(resent.Links, link => link.Context.SpanId == pass.SpanId && link.Context.TraceId == pass.TraceId);
        Assert.NotEqual(pass.TraceId, resent.TraceId);

        var secondCall = Assert.Single(
            spans.Where(s => TracedStack.IsSpan(s, CrewTracing.CrewCaller, "crew call", uid)),
            call => TracedStack.Ancestors(call, spans).Contains(resent));
        Assert.Contains(spans, s => TracedStack.IsSpan(s, CrewTracing.ResponseStore, "store answer", uid) && TracedStack.Ancestors(s, spans).Contains(secondCall));
    }
}
