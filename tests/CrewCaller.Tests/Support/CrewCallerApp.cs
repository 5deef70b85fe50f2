using System.Collections.Concurrent;
using System.Net.Http.Json;
using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.Persistence;
using CrewPlatform.FakeCrewApi;
using CrewPlatform.ServiceDefaults;
using MassTransit;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CrewPlatform.CrewCaller.Tests.Support;

/// <summary>
/// The real CrewCaller service (WebApplicationFactory) on the fixture's RabbitMQ virtual host and database, calling the
/// fake crew API over real HTTP. A test-only queue subscribes to the events the service publishes.
/// </summary>
public abstract class CrewCallerApp : CrewCallerDatabase
{
    private WebApplicationFactory<Program>? factory;
    private HostReceiveEndpointHandle? observer;

    public FakeCrewApiHost Fake { get; private set; } = null!;

    public ConcurrentQueue<CrewResponseReceived> Received { get; } = new();

    public ConcurrentQueue<CrewCallFailed> Failed { get; } = new();

    /// <summary>The <c>CREW_*</c> settings of this fixture's service.</summary>
    protected abstract IReadOnlyDictionary<string, string?> CrewSettings { get; }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Fake = await FakeCrewApiHost.StartAsync();

        var settings = new Dictionary<string, string?>(ServiceSettings)
        {
            ["CREW_API_URL"] = Fake.RunCrewUrl.ToString(),
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:CrewPlatform"] = "Information",
        };
        foreach (var (key, value) in CrewSettings)
        {
            settings[key] = value;
        }

        factory = new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }
        });

        // The factory stops Program before RunWithMigrationsAsync, so the fixture migrated the database itself.
        await factory.Services.MigrateAsync<CrewCallerDbContext>();

        var bus = factory.Services.GetRequiredService<IBus>();
        observer = bus.ConnectReceiveEndpoint("crew-caller-tests-observer", endpoint =>
        {
            endpoint.Handler<CrewResponseReceived>(context =>
            {
                Received.Enqueue(context.Message);
                return Task.CompletedTask;
            });
            endpoint.Handler<CrewCallFailed>(context =>
            {
                Failed.Enqueue(context.Message);
                return Task.CompletedTask;
            });
        });
        await observer.Ready;
    }

    public async Task SendAsync(RunCrewForUser command)
    {
        var endpoint = await factory!.Services.GetRequiredService<IBus>().GetSendEndpoint(ServiceDefaultsExtensions.QueueAddress(QueueNames.RunCrewForUser));
        await endpoint.Send(command);
    }

    public async Task<CrewResponseReceived> ReceivedAsync(RunCrewForUser command, int count = 1)
    {
        await Testing.Eventually.HoldsAsync(
            () => ReceivedFor(command).Count >= count,
            $"CrewResponseReceived has been published {count} time(s) for {command.UserUid}",
            TimeSpan.FromSeconds(30));
        return ReceivedFor(command)[0];
    }

    public async Task<CrewCallFailed> FailedAsync(RunCrewForUser command)
    {
        await Testing.Eventually.HoldsAsync(
            () => Failed.Any(f => f.RunId == command.RunId && f.UserUid == command.UserUid),
            $"CrewCallFailed has been published for {command.UserUid}",
            TimeSpan.FromSeconds(30));
        return Failed.First(f => f.RunId == command.RunId && f.UserUid == command.UserUid);
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
        if (observer is { } handle)
        {
            await handle.StopAsync();
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

    public static RunCrewForUser NewCommand(string? goal = "Open a second shop")
    {
        var user = $"user-{Guid.NewGuid():N}"[..17];
        return new RunCrewForUser { RunId = Guid.NewGuid(), UserUid = user, Context = $"Business of {user}", Goal = goal };
    }
}
