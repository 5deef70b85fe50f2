using CrewPlatform.Contracts;
using CrewPlatform.Testing;
using MassTransit;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>
/// Plays the crew caller on the fixture's real RabbitMQ virtual host: consumes <c>run-crew-for-user</c> and
/// records every command, and listens for <see cref="CrewRunCompleted"/>.
/// </summary>
public sealed class CrewCallerStandIn(BusListener listener) : IAsyncDisposable
{
    public IReadOnlyList<RunCrewForUser> Commands => listener.Received<RunCrewForUser>();

    public IReadOnlyList<CrewRunCompleted> Completed => listener.Received<CrewRunCompleted>();

    public long Received => listener.Count<RunCrewForUser>();

    public IPublishEndpoint Publisher => listener.Bus;

    public static async Task<CrewCallerStandIn> StartAsync(RealInfrastructure infrastructure) =>
        new(await new BusListener(infrastructure)
            .Record<RunCrewForUser>(QueueNames.RunCrewForUser, prefetchCount: 1000)
            .Record<CrewRunCompleted>("test-crew-run-completed")
            .StartAsync());

    public ValueTask DisposeAsync() => listener.DisposeAsync();
}
