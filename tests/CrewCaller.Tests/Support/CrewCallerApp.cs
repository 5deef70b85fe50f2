using System.Collections.Concurrent;
using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.FakeCrewApi;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CrewPlatform.CrewCaller.Tests.Support;

/// <summary>The <c>CREW_*</c> settings a <see cref="CrewCallerApp{TProfile}"/> starts the service with.</summary>
public interface ICrewSettingsProfile
{
    /// <summary>A value of the profile's that the app replaces by the fake crew API's URL, e.g. for a named endpoint.</summary>
    const string FakeCrewUrl = "{fake-crew-url}";

    static abstract IReadOnlyDictionary<string, string?> Settings { get; }
}

/// <summary>
/// The real CrewCaller service (WebApplicationFactory) on the fixture's RabbitMQ virtual host and database, with the
/// settings of <typeparamref name="TProfile"/>, calling the fake crew API over real HTTP. A test-only queue subscribes
/// to the events the service publishes.
/// </summary>
public sealed class CrewCallerApp<TProfile> : CrewCallerDatabase where TProfile : ICrewSettingsProfile
{
    private ServiceApp<Program>? factory;
    private BusListener? observer;

    public FakeCrewApiHost Fake { get; private set; } = null!;

    public IReadOnlyList<CrewResponseReceived> Received => observer?.Received<CrewResponseReceived>() ?? [];

    public IReadOnlyList<CrewCallFailed> Failed => observer?.Received<CrewCallFailed>() ?? [];

    public IReadOnlyList<CrewCallSkipped> Skipped => observer?.Received<CrewCallSkipped>() ?? [];

    /// <summary>Every time the service's consumer finished with a command: the command and the exception it ended with, if any.</summary>
    public ConcurrentQueue<(RunCrewForUser Command, Exception? Exception)> Consumed { get; } = new();

    /// <summary>The service's container, e.g. for its <see cref="CrewApiCircuit"/>.</summary>
    public IServiceProvider Services => factory!.Services;

    /// <summary>The service's crew endpoints, each with its circuit.</summary>
    public CrewEndpoints Endpoints => Services.GetRequiredService<CrewEndpoints>();

    /// <summary>A client of the service's own API, in memory.</summary>
    public HttpClient CreateClient() => factory!.CreateClient();

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Fake = await FakeCrewApiHost.StartAsync();

        var settings = new Dictionary<string, string?>
        {
            ["CREW_API_URL"] = Fake.RunCrewUrl.ToString(),
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:CrewPlatform"] = "Information",
        };
        foreach (var (key, value) in TProfile.Settings)
        {
            settings[key] = value?.Replace(ICrewSettingsProfile.FakeCrewUrl, Fake.RunCrewUrl.ToString(), StringComparison.Ordinal);
        }

        factory = new ServiceApp<Program>(this, settings);

        // Listens like the response store does: a queue of its own bound to the events the service publishes.
        observer = await new BusListener(this)
            .Record<CrewResponseReceived>("crew-caller-tests-observer")
            .Record<CrewCallFailed>("crew-caller-tests-observer")
            .Record<CrewCallSkipped>("crew-caller-tests-observer")
            .StartAsync();
        factory.Services.GetRequiredService<IBus>().ConnectConsumeMessageObserver(new ConsumeRecorder(Consumed));
    }

    /// <summary>Publishes an event as another service would, e.g. the Scheduler's <see cref="CrewRunCancelled"/>.</summary>
    public Task PublishAsync<T>(T message) where T : class => Services.GetRequiredService<IBus>().Publish(message);

    public async Task SendAsync(RunCrewForUser command)
    {
        var endpoint = await factory!.Services.GetRequiredService<IBus>().GetSendEndpoint(ServiceDefaultsExtensions.QueueAddress(QueueNames.RunCrewForUser));
        await endpoint.Send(command);
    }

    /// <summary>Sends commands to the queue of one crew endpoint and priority (null: the default), 500 a batch.</summary>
    public async Task SendToAsync(string? endpoint, string? priority, IEnumerable<RunCrewForUser> commands)
    {
        var queue = ServiceDefaultsExtensions.QueueAddress(QueueNames.RunCrewForUserOn(endpoint, priority));
        var send = await Services.GetRequiredService<IBus>().GetSendEndpoint(queue);
        foreach (var chunk in commands.Chunk(500))
        {
            await send.SendBatch(chunk.Select(c => c with { Endpoint = endpoint, Priority = priority }));
        }
    }

    public async Task<CrewResponseReceived> ReceivedAsync(RunCrewForUser command, int count = 1)
    {
        await Eventually.HoldsAsync(
            () => ReceivedFor(command).Count >= count,
            $"CrewResponseReceived has been published {count} time(s) for {command.UserUid}",
            TimeSpan.FromSeconds(30));
        return ReceivedFor(command)[0];
    }

    public async Task<CrewCallFailed> FailedAsync(RunCrewForUser command)
    {
        await Eventually.HoldsAsync(
            () => Failed.Any(f => f.RunId == command.RunId && f.UserUid == command.UserUid),
            $"CrewCallFailed has been published for {command.UserUid}",
            TimeSpan.FromSeconds(30));
        return Failed.First(f => f.RunId == command.RunId && f.UserUid == command.UserUid);
    }

    /// <summary>How often the consumer has finished with this command so far, faulted or not.</summary>
    public List<Exception?> ConsumedFor(RunCrewForUser command) =>
        Consumed.Where(c => c.Command.RunId == command.RunId && c.Command.UserUid == command.UserUid).Select(c => c.Exception).ToList();

    /// <summary>
    /// Stops the service as SIGTERM does, through the application lifetime, so Program's own RunAsync stops the host
    /// (disposing the factory instead would stop it twice and dispose the container under the draining consumers).
    /// Events published meanwhile stay in the observer's queue. Returns how long the stop took.
    /// </summary>
    public async Task<TimeSpan> StopServiceAsync()
    {
        if (observer is not null)
        {
            await observer.StopAsync();
        }

        var lifetime = factory!.Services.GetRequiredService<IHostApplicationLifetime>();
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = lifetime.ApplicationStopped.Register(stopped.SetResult);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        lifetime.StopApplication();
        await stopped.Task.WaitAsync(TimeSpan.FromMinutes(2));
        return System.Diagnostics.Stopwatch.GetElapsedTime(started);
    }

    /// <summary>
    /// The bodies of the messages in <c>run-crew-for-user_error</c>, read through the management API without taking
    /// them off the queue (the queue's message counters lag by seconds; this does not).
    /// </summary>
    public Task<IReadOnlyList<string>> PeekErrorQueueAsync() => PeekQueueAsync($"{QueueNames.RunCrewForUser}_error");

    public List<CrewResponseReceived> ReceivedFor(RunCrewForUser command) =>
        Received.Where(r => r.RunId == command.RunId && r.UserUid == command.UserUid).ToList();

    /// <summary>The calls the fake received for this command's user (each test uses a fresh user, so they are its calls).</summary>
    public List<ReceivedCall> CallsFor(RunCrewForUser command) => Fake.State.Calls().Where(c => c.Context == command.Context && c.Goal == command.Goal).ToList();

    public override async Task DisposeAsync()
    {
        if (observer is not null)
        {
            await observer.DisposeAsync();
        }

        if (factory is not null)
        {
            await factory.DisposeAsync();
        }

        if (Fake is not null)
        {
            await Fake.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    private sealed class ConsumeRecorder(ConcurrentQueue<(RunCrewForUser, Exception?)> consumed) : IConsumeMessageObserver<RunCrewForUser>
    {
        public Task PreConsume(ConsumeContext<RunCrewForUser> context) => Task.CompletedTask;

        public Task PostConsume(ConsumeContext<RunCrewForUser> context)
        {
            consumed.Enqueue((context.Message, null));
            return Task.CompletedTask;
        }

        public Task ConsumeFault(ConsumeContext<RunCrewForUser> context, Exception exception)
        {
            consumed.Enqueue((context.Message, exception));
            return Task.CompletedTask;
        }
    }
}
