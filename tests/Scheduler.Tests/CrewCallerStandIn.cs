using System.Collections.Concurrent;
using CrewPlatform.Contracts;
using CrewPlatform.Testing;
using MassTransit;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>
/// Plays the crew caller on the fixture's real RabbitMQ virtual host: consumes <c>run-crew-for-user</c> and
/// records every command, and listens for <see cref="CrewRunCompleted"/>.
/// </summary>
public sealed class CrewCallerStandIn : IAsyncDisposable
{
    private readonly IBusControl bus;
    private long received;

    private CrewCallerStandIn(RealInfrastructure infrastructure)
    {
        var rabbit = infrastructure.RabbitMq;
        bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(rabbit.Host, (ushort)rabbit.Port, rabbit.VirtualHost, h =>
            {
                h.Username(rabbit.Username);
                h.Password(rabbit.Password);
            });
            cfg.ReceiveEndpoint(QueueNames.RunCrewForUser, e =>
            {
                e.PrefetchCount = 1000;
                e.Handler<RunCrewForUser>(context =>
                {
                    Commands.Add(context.Message);
                    Interlocked.Increment(ref received);
                    return Task.CompletedTask;
                });
            });
            cfg.ReceiveEndpoint("test-crew-run-completed", e => e.Handler<CrewRunCompleted>(context =>
            {
                Completed.Add(context.Message);
                return Task.CompletedTask;
            }));
        });
    }

    public ConcurrentBag<RunCrewForUser> Commands { get; } = [];

    public ConcurrentBag<CrewRunCompleted> Completed { get; } = [];

    public long Received => Interlocked.Read(ref received);

    public IPublishEndpoint Publisher => bus;

    public static async Task<CrewCallerStandIn> StartAsync(RealInfrastructure infrastructure)
    {
        var standIn = new CrewCallerStandIn(infrastructure);
        await standIn.bus.StartAsync();
        return standIn;
    }

    public async ValueTask DisposeAsync() => await bus.StopAsync();
}
