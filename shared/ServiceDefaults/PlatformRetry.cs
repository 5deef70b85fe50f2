using System.Net.Sockets;
using MassTransit;
using Npgsql;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// The retry every consumer of the platform uses. Two ladders, because the two kinds of failure need opposite
/// treatment:
/// <list type="bullet">
/// <item>Infrastructure faults (PostgreSQL or RabbitMQ unreachable, restarting, timing out) are retried for about
/// ten minutes with exponential backoff up to 30 s: an outage of a few minutes must never park a message.</item>
/// <item>Anything else (a bug, a poison message) gets a short ladder and then goes to the <c>_error</c> queue, so it
/// does not hold a concurrency slot for ten minutes.</item>
/// </list>
/// Without MassTransit's EF outbox, the delayed-exchange plugin or Quartz (none is available here), retries stay in
/// process; a stop cancels the wait and the message goes back to the queue, never to <c>_error</c>.
/// </summary>
public static class PlatformRetry
{
    /// <summary>Retries of an infrastructure fault: 1.5 s, 2.5 s, 4.5 s ... capped at 30 s, about ten minutes in all.</summary>
    public const int InfrastructureRetryLimit = 25;

    public static readonly TimeSpan InfrastructureMinInterval = TimeSpan.FromMilliseconds(500);
    public static readonly TimeSpan InfrastructureMaxInterval = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan InfrastructureIntervalDelta = TimeSpan.FromSeconds(1);

    /// <summary>Adds both ladders to an endpoint's pipe (infrastructure outermost).</summary>
    public static void UsePlatformRetry(this IConsumePipeConfigurator configurator)
    {
        configurator.UseMessageRetry(UntilInfrastructureIsBack);
        configurator.UseMessageRetry(BrieflyForAnythingElse);
    }

    /// <summary>Adds both ladders to one consumer's pipe (for a batch consumer: the whole batch is retried).</summary>
    public static void UsePlatformRetry<TConsumer>(this IConsumerConfigurator<TConsumer> configurator)
        where TConsumer : class
    {
        configurator.UseMessageRetry(UntilInfrastructureIsBack);
        configurator.UseMessageRetry(BrieflyForAnythingElse);
    }

    private static void UntilInfrastructureIsBack(IRetryConfigurator retry)
    {
        retry.Handle<Exception>(IsInfrastructureFault);
        retry.Exponential(InfrastructureRetryLimit, InfrastructureMinInterval, InfrastructureMaxInterval, InfrastructureIntervalDelta);
    }

    private static void BrieflyForAnythingElse(IRetryConfigurator retry)
    {
        retry.Ignore<Exception>(IsInfrastructureFault);
        retry.Intervals(200, 1_000, 5_000);
    }

    /// <summary>
    /// Runs one idempotent database statement (or publish) in place until the infrastructure answers, backing off like
    /// the infrastructure ladder but without a limit: for work whose loss would cost a paid crew call again (the answer
    /// in hand must be recorded). Only <paramref name="cancellationToken"/> stops it.
    /// </summary>
    public static async Task<T> UntilInfrastructureAnswersAsync<T>(Func<CancellationToken, Task<T>> action, TimeProvider time, CancellationToken cancellationToken)
    {
        var delay = InfrastructureMinInterval;
        while (true)
        {
            try
            {
                return await action(cancellationToken);
            }
            catch (Exception ex) when (IsInfrastructureFault(ex) && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(delay, time, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(InfrastructureMaxInterval.Ticks, (delay + InfrastructureIntervalDelta).Ticks * 2));
            }
        }
    }

    /// <inheritdoc cref="UntilInfrastructureAnswersAsync{T}(Func{CancellationToken, Task{T}}, TimeProvider, CancellationToken)"/>
    public static Task UntilInfrastructureAnswersAsync(Func<CancellationToken, Task> action, TimeProvider time, CancellationToken cancellationToken) =>
        UntilInfrastructureAnswersAsync(async ct => { await action(ct); return true; }, time, cancellationToken);

    /// <summary>
    /// True when the exception (or one it wraps) says PostgreSQL or RabbitMQ could not be reached or went away,
    /// rather than that the request itself was wrong.
    /// </summary>
    public static bool IsInfrastructureFault(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case NpgsqlException npgsql when npgsql.IsTransient:
                case PostgresException { SqlState: PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.TooManyConnections }:
                case SocketException:
                case TimeoutException:
                case RabbitMQ.Client.Exceptions.AlreadyClosedException:
                case RabbitMQ.Client.Exceptions.BrokerUnreachableException:
                case RabbitMQ.Client.Exceptions.OperationInterruptedException:
                case ConnectionException: // MassTransit's, RabbitMqConnectionException included
                case MessageNotAcknowledgedException: // the broker went away before confirming a publish
                case MassTransitException when e.GetType().Name == "TransportUnavailableException": // internal type
                    return true;
            }
        }

        return false;
    }
}
