using CrewPlatform.Contracts;
using CrewPlatform.CrewCaller.Tests.Support;
using CrewPlatform.FakeCrewApi;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.Testing;
using MassTransit;

namespace CrewPlatform.CrewCaller.Tests.Integration;

/// <summary>
/// The Scheduler's startup step (<see cref="PlatformQueueDeclaration"/>) on a fresh virtual host, commands sent before any
/// CrewCaller ever ran, then the real CrewCaller started over the queues it finds there.
/// </summary>
public sealed class PreDeclaredQueuesTests : IAsyncLifetime
{
    private const string SecondEndpoint = "second";

    private static readonly string[] Queues =
        QueueNames.RunCrewForUserQueues([CrewEndpointNames.Default, SecondEndpoint]).Select(q => q.Queue).ToArray();

    private readonly CrewCallerDatabase infrastructure = new();
    private FakeCrewApiHost fake = null!;

    public async Task InitializeAsync()
    {
        await infrastructure.InitializeAsync();
        fake = await FakeCrewApiHost.StartAsync();
    }

    [Fact]
    public async Task Commands_sent_to_queues_the_scheduler_declared_before_any_crew_caller_ran_are_consumed_once_it_starts_and_it_declares_them_alike()
    {
        await PlatformQueueDeclaration.DeclareAsync(infrastructure.RabbitMq, Queues);
        await using var observer = await new BusListener(infrastructure).Record<CrewResponseReceived>("pre-declared-queues-observer").StartAsync();
        var commands = new Dictionary<string, RunCrewForUser>(StringComparer.Ordinal);
        foreach (var (endpoint, priority, queue) in QueueNames.RunCrewForUserQueues([CrewEndpointNames.Default, SecondEndpoint]))
        {
            var command = Messages.RunCrewForUser() with { Endpoint = endpoint, Priority = priority };
            await (await observer.Bus.GetSendEndpoint(ServiceDefaultsExtensions.QueueAddress(queue))).Send(command);
            commands[queue] = command;
        }

        await Eventually.HoldsAsync(
            async () => (await Task.WhenAll(Queues.Select(infrastructure.QueueAsync))).All(q => q?.MessagesReady == 1),
            "each queue holds its command with no crew caller running");

        await using var crewCaller = new ServiceApp<Program>(infrastructure, new Dictionary<string, string?>
        {
            ["CREW_API_URL"] = fake.RunCrewUrl.ToString(),
            [$"CREW_ENDPOINTS:{SecondEndpoint}:Url"] = fake.RunCrewUrl.ToString(),
        });
        _ = crewCaller.Server;

        await Eventually.HoldsAsync(
            () => commands.Values.All(c => observer.Received<CrewResponseReceived>().Any(r => r.RunId == c.RunId && r.UserUid == c.UserUid)),
            "the crew caller answered the command waiting in each queue");
        foreach (var queue in Queues)
        {
            await infrastructure.AssertPlatformQueueAsync(queue);
        }
    }

    public async Task DisposeAsync()
    {
        await fake.DisposeAsync();
        await infrastructure.DisposeAsync();
    }
}
