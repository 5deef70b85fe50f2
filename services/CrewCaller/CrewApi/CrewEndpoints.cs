using CrewPlatform.Contracts;
using CrewPlatform.ServiceDefaults;
using Microsoft.Extensions.Options;
using Refit;

namespace CrewPlatform.CrewCaller.CrewApi;

/// <summary>
/// One crew endpoint as CrewCaller calls it: its URL's client (with its headers), attempt timeout, attempts, and its own
/// circuit and concurrency gate, so one endpoint that is down holds only its own users.
/// </summary>
public sealed class CrewEndpoint(
    string name, ICrewApi api, TimeSpan attemptTimeout, int maxConcurrency, int maxAttempts, CrewApiCircuit circuit, CrewPrice price, int? callsPerMinute)
{
    public string Name { get; } = name;

    public ICrewApi Api { get; } = api;

    public TimeSpan AttemptTimeout { get; } = attemptTimeout;

    public int MaxConcurrency { get; } = maxConcurrency;

    public int MaxAttempts { get; } = maxAttempts;

    public CrewApiCircuit Circuit { get; } = circuit;

    /// <summary>What a call costs: the answer's own figure or the endpoint's price.</summary>
    public CrewPrice Price { get; } = price;

    /// <summary>Call starts per minute over every instance (the shared pace); null: no limit.</summary>
    public int? CallsPerMinute { get; } = callsPerMinute;

    /// <summary>Shared by the endpoint's high and normal queues: a free slot goes to a waiting high-priority user first.</summary>
    public PriorityGate Gate { get; } = new(maxConcurrency);
}

/// <summary>
/// Every crew endpoint of this instance: <c>default</c> (<c>CREW_API_URL</c> and the top-level <c>CREW_*</c> settings)
/// and each of <c>CREW_ENDPOINTS</c>, whose unset values take the default's. All are built alike: a client of the
/// <see cref="HttpClientName"/> registration at the endpoint's URL with its headers, and a circuit of its own.
/// </summary>
public sealed class CrewEndpoints
{
    /// <summary>The <see cref="IHttpClientFactory"/> client every endpoint calls through (no timeout, no log lines).</summary>
    public const string HttpClientName = "crew-api";

    private readonly Dictionary<string, CrewEndpoint> endpoints = new(StringComparer.Ordinal);

    /// <remarks>An <see cref="ICrewApi"/> registered under an endpoint's name (a test's stand-in) is used instead of its client.</remarks>
    public CrewEndpoints(IServiceProvider services, IHttpClientFactory httpClients, IOptions<CrewCallerOptions> options, TimeProvider time, ILoggerFactory loggers)
    {
        var settings = options.Value;
        var all = (settings.Endpoints ?? []).Prepend(new(CrewEndpointNames.Default, new CrewEndpointDefinition { Url = settings.ApiUrl }));
        foreach (var (name, definition) in all)
        {
            var concurrency = definition.MaxConcurrency ?? settings.MaxConcurrency;
            endpoints[name] = new CrewEndpoint(
                name,
                services.GetKeyedService<ICrewApi>(name) ?? RestService.ForGenerated<ICrewApi>(Client(httpClients, definition)),
                definition.TimeoutSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : settings.AttemptTimeout,
                concurrency,
                definition.MaxAttempts ?? settings.MaxAttempts,
                new CrewApiCircuit(options, time, loggers.CreateLogger<CrewApiCircuit>(), name, concurrency),
                new CrewPrice(definition.CostPerCall ?? settings.CostPerCall, definition.CostPointer ?? settings.CostPointer),
                definition.CallsPerMinute ?? settings.CallsPerMinute);
        }
    }

    /// <summary>The endpoint's URL is the client's base address (the API's path is empty); headers such as an API key are set once, never logged.</summary>
    private static HttpClient Client(IHttpClientFactory httpClients, CrewEndpointDefinition definition)
    {
        var client = httpClients.CreateClient(HttpClientName);
        client.BaseAddress = new Uri(definition.Url!, UriKind.Absolute);
        foreach (var (header, value) in definition.Headers ?? [])
        {
            client.DefaultRequestHeaders.TryAddWithoutValidation(header, value);
        }

        return client;
    }

    public IEnumerable<CrewEndpoint> All => endpoints.Values;

    /// <summary>The endpoint a command names (null: the default one); throws for a name this instance is not configured with.</summary>
    public CrewEndpoint For(string? name) =>
        endpoints.TryGetValue(CrewEndpointNames.OrDefault(name), out var endpoint)
            ? endpoint
            : throw new InvalidOperationException($"Unknown crew endpoint '{name}': it is not in this instance's CREW_ENDPOINTS");

    /// <summary>The (endpoint, priority) queues this instance consumes.</summary>
    public IEnumerable<(CrewEndpoint Endpoint, string Priority, string Queue)> Queues() =>
        QueueNames.RunCrewForUserQueues(endpoints.Keys).Select(q => (endpoints[q.Endpoint], q.Priority, q.Queue));

    /// <summary>The endpoint a queue belongs to (the default one for a queue of no endpoint, as in harness tests).</summary>
    public CrewEndpoint ForQueue(string queue) =>
        Queues().Where(q => q.Queue == queue).Select(q => q.Endpoint).FirstOrDefault() ?? For(null);
}

/// <summary>
/// A crew endpoint's concurrency, shared by its high and normal queues: at most <c>capacity</c> users hold a slot, and
/// a freed slot goes to the longest-waiting high-priority user before any normal one. Quorum queues have no message
/// priorities, so this is where priority is decided.
/// </summary>
public sealed class PriorityGate(int capacity)
{
    private readonly Lock gate = new();
    private readonly LinkedList<TaskCompletionSource<Slot>> high = new();
    private readonly LinkedList<TaskCompletionSource<Slot>> normal = new();

    // Invariant: waiters exist only while no slot is free.
    private int free = capacity;

    /// <summary>Waits for a slot; dispose the slot to hand it on.</summary>
    public async Task<Slot> EnterAsync(bool isHigh, CancellationToken cancellationToken)
    {
        LinkedListNode<TaskCompletionSource<Slot>> node;
        lock (gate)
        {
            if (free > 0)
            {
                free--;
                return new Slot(this);
            }

            node = (isHigh ? high : normal).AddLast(new TaskCompletionSource<Slot>(TaskCreationOptions.RunContinuationsAsynchronously));
        }

        await using var registration = cancellationToken.Register(() =>
        {
            lock (gate)
            {
                if (node.List is { } waiting)
                {
                    waiting.Remove(node);
                    node.Value.TrySetCanceled(cancellationToken);
                }
            }
        });
        return await node.Value.Task;
    }

    public int Capacity { get; } = capacity;

    /// <summary>Slots held now: calls in flight, waits between attempts and at an open circuit included.</summary>
    public int InUse
    {
        get { lock (gate) { return Capacity - free; } }
    }

    /// <summary>Users waiting for a slot, for tests.</summary>
    public int Waiting
    {
        get { lock (gate) { return high.Count + normal.Count; } }
    }

    private void Release()
    {
        lock (gate)
        {
            var next = high.First ?? normal.First;
            if (next is null)
            {
                free++;
                return;
            }

            next.List!.Remove(next);
            next.Value.TrySetResult(new Slot(this));
        }
    }

    public sealed class Slot(PriorityGate owner) : IDisposable
    {
        private int released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                owner.Release();
            }
        }
    }
}
