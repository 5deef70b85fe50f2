using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.CrewApi;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.Testing;
using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace CrewPlatform.CrewCaller.Tests.Support;

/// <summary>
/// CrewCaller's consumers on MassTransit's in-memory test harness, with the real ledger in the fixture's database
/// and a scripted crew API. Settings default to fast retries so a test never waits long.
/// </summary>
public sealed class HarnessScope : IAsyncDisposable
{
    public static readonly IReadOnlyDictionary<string, string?> FastSettings = new Dictionary<string, string?>
    {
        ["CREW_MAX_ATTEMPTS"] = "3",
        ["CREW_RETRY_BASE_DELAY_MS"] = "10",
        ["CREW_RETRY_MAX_DELAY_SECONDS"] = "2",
        ["CREW_API_TIMEOUT_SECONDS"] = "0.5",
        ["CREW_MAX_CONCURRENCY"] = "4",
    };

    /// <summary>What the harness holds already: its own Select waits for the bus to be quiet for a while before it ends.</summary>
    private static readonly CancellationToken SoFar = new(canceled: true);

    private readonly HarnessHost host;

    private HarnessScope(HarnessHost host) => this.host = host;

    public ITestHarness Harness => host.Harness;

    public IServiceProvider Services => host.Services;

    /// <summary>The application lifetime the consumer watches; <see cref="StoppableLifetime.StopApplication"/> starts a stop.</summary>
    public StoppableLifetime Lifetime => (StoppableLifetime)host.Services.GetRequiredService<IHostApplicationLifetime>();

    /// <param name="configureLedger">Adjusts the ledger's data source, e.g. to watch the statements it sends.</param>
    public static async Task<HarnessScope> StartAsync(
        CrewCallerDatabase database, ICrewApi crewApi, IReadOnlyDictionary<string, string?>? overrides = null, Action<NpgsqlDataSourceBuilder>? configureLedger = null)
    {
        var settings = new Dictionary<string, string?>(FastSettings);
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<IHostApplicationLifetime, StoppableLifetime>();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddSingleton(_ =>
        {
            var dataSource = new NpgsqlDataSourceBuilder(database.PostgresConnectionString);
            configureLedger?.Invoke(dataSource);
            return dataSource.Build();
        });
        services.AddCrewCaller(configuration);
        services.AddKeyedSingleton(CrewEndpointNames.Default, crewApi);
        return new HarnessScope(await HarnessHost.StartAsync(services, x => x.AddCrewCallerConsumers(), timeout: TimeSpan.FromSeconds(20)));
    }

    public async Task SendAsync(RunCrewForUser command)
    {
        var endpoint = await Harness.Bus.GetSendEndpoint(ServiceDefaultsExtensions.QueueAddress(QueueNames.RunCrewForUser));
        await endpoint.Send(command);
    }

    public async Task<CrewResponseReceived> ReceivedAsync(RunCrewForUser command, int index = 0)
    {
        var found = await Harness.Published.Any<CrewResponseReceived>(x => Matches(x.Context.Message, command));
        Assert.True(found, $"expected CrewResponseReceived for {command.UserUid}");
        return Harness.Published.Select<CrewResponseReceived>(x => Matches(x.Context.Message, command)).ElementAt(index).Context.Message;
    }

    public async Task<CrewCallFailed> FailedAsync(RunCrewForUser command)
    {
        var found = await Harness.Published.Any<CrewCallFailed>(x => x.Context.Message.RunId == command.RunId && x.Context.Message.UserUid == command.UserUid);
        Assert.True(found, $"expected CrewCallFailed for {command.UserUid}");
        return Harness.Published.Select<CrewCallFailed>(x => x.Context.Message.RunId == command.RunId && x.Context.Message.UserUid == command.UserUid).First().Context.Message;
    }

    /// <summary>The exception the consumer ended with, once it has consumed the command; null when it completed.</summary>
    public async Task<Exception?> ConsumedAsync(RunCrewForUser command, int expectedConsumptions = 1)
    {
        var consumer = Harness.GetConsumerHarness<Consumers.RunCrewForUserConsumer>();
        var consumptions = () => consumer.Consumed.Select<RunCrewForUser>(x => Matches(x.Context.Message, command), SoFar).ToList();
        await Eventually.HoldsAsync(
            () => consumptions().Count >= expectedConsumptions,
            $"the consumer has consumed the command for {command.UserUid} {expectedConsumptions} time(s)",
            TimeSpan.FromSeconds(20));
        return consumptions()[^1].Exception;
    }

    /// <summary>The messages of a type published so far.</summary>
    public List<T> PublishedSoFar<T>() where T : class => host.PublishedSoFar<T>();

    private static bool Matches(CrewResponseReceived message, RunCrewForUser command) => message.RunId == command.RunId && message.UserUid == command.UserUid;

    private static bool Matches(RunCrewForUser message, RunCrewForUser command) => message.RunId == command.RunId && message.UserUid == command.UserUid;

    public ValueTask DisposeAsync() => host.DisposeAsync();
}

/// <summary>The host's lifetime for harness tests, which have no host: the consumer watches <see cref="ApplicationStopping"/>.</summary>
public sealed class StoppableLifetime : IHostApplicationLifetime, IDisposable
{
    private readonly CancellationTokenSource stopping = new();

    public CancellationToken ApplicationStarted => CancellationToken.None;

    public CancellationToken ApplicationStopping => stopping.Token;

    public CancellationToken ApplicationStopped => CancellationToken.None;

    public void StopApplication() => stopping.Cancel();

    public void Dispose() => stopping.Dispose();
}
