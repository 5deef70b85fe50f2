using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// Declares consumer queues at a sender's startup, before its consumer ever ran, so a command sent to
/// <see cref="ServiceDefaultsExtensions.QueueAddress"/> waits in its queue instead of being dropped by an exchange that
/// has no queue yet. The declaration is the one MassTransit 8.5's RabbitMQ receive endpoint makes for a queue of
/// <see cref="ServiceDefaultsExtensions.UsePlatformQueue"/> (<c>RabbitMqReceiveEndpointBuilder.BuildTopology</c>):
/// a durable fanout exchange of the queue's name without arguments, the durable quorum queue, not exclusive nor
/// auto-deleted, and the binding between them with an empty routing key and no arguments. RabbitMQ refuses a later
/// declaration of either that differs (PRECONDITION_FAILED), so the consumer's own declaration must find it identical.
/// The consumer's endpoint also binds its message types' exchanges when it starts; a sender needs none of those.
/// </summary>
public sealed partial class PlatformQueueDeclaration(
    RabbitMqSettings rabbit, Func<IEnumerable<string>> queues, ILogger<PlatformQueueDeclaration> logger) : IHostedService
{
    // A broker still starting is waited for about as long as the bus waits to start (2 minutes), 2 s between attempts.
    private const int Attempts = 60;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var names = queues().ToList();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await DeclareAsync(rabbit, names, cancellationToken);
                LogDeclared(logger, names.Count, string.Join(", ", names));
                return;
            }
            catch (BrokerUnreachableException ex) when (attempt < Attempts && ex.InnerException is not AuthenticationFailureException)
            {
                LogNotReachable(logger, attempt, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Declared {Count} queues ahead of their consumer: {Queues}")]
    private static partial void LogDeclared(ILogger logger, int count, string queues);

    [LoggerMessage(Level = LogLevel.Warning, Message = "RabbitMQ not reachable yet (attempt {Attempt}): {Reason}")]
    private static partial void LogNotReachable(ILogger logger, int attempt, string reason);

    /// <summary>Declares each queue, its exchange and their binding over one connection of <paramref name="rabbit"/>'s user.</summary>
    /// <exception cref="InvalidOperationException">RabbitMQ refused a declaration, e.g. a queue that exists with other arguments.</exception>
    public static async Task DeclareAsync(RabbitMqSettings rabbit, IEnumerable<string> queues, CancellationToken cancellationToken = default)
    {
        var factory = new ConnectionFactory
        {
            HostName = rabbit.Host,
            Port = rabbit.Port,
            VirtualHost = rabbit.VirtualHost,
            UserName = rabbit.Username,
            Password = rabbit.Password,
        };
        // The arguments MassTransit declares a platform queue with: SetQuorumQueue() sets the queue type alone.
        var quorum = new Dictionary<string, object?> { [Headers.XQueueType] = "quorum" };
        await using var connection = await factory.CreateConnectionAsync(nameof(PlatformQueueDeclaration), cancellationToken);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
        foreach (var queue in queues)
        {
            try
            {
                await channel.ExchangeDeclareAsync(queue, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: cancellationToken);
                await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, quorum, cancellationToken: cancellationToken);
                await channel.QueueBindAsync(queue, queue, routingKey: "", cancellationToken: cancellationToken);
            }
            catch (OperationInterruptedException ex)
            {
                throw new InvalidOperationException($"RabbitMQ refused to declare queue {queue} as its consumer does: {ex.Message}", ex);
            }
        }
    }
}

public static class PlatformQueueDeclarationExtensions
{
    /// <summary>
    /// Declares <paramref name="queues"/> when the service starts, with its own RabbitMQ settings (<c>RabbitMq:*</c>).
    /// Call it before <see cref="ServiceDefaultsExtensions.AddMessaging"/> and before any hosted service that sends:
    /// hosted services start one after another in the order they were added, and the server only once all have.
    /// </summary>
    /// <param name="queues">The queues, read from the service's options when it starts.</param>
    public static TBuilder AddPlatformQueueDeclaration<TBuilder>(this TBuilder builder, Func<IServiceProvider, IEnumerable<string>> queues)
        where TBuilder : IHostApplicationBuilder
    {
        var rabbit = RabbitMqSettings.From(builder.Configuration);
        builder.Services.AddHostedService(services => new PlatformQueueDeclaration(
            rabbit, () => queues(services), services.GetRequiredService<ILogger<PlatformQueueDeclaration>>()));
        return builder;
    }
}
