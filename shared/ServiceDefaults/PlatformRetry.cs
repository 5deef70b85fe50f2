using System.Net.Sockets;
using MassTransit;
using Microsoft.Extensions.Logging;
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
public static partial class PlatformRetry
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
    /// The longest one attempt at the broker or the database may take before it counts as an infrastructure fault.
    /// A publish that was waiting for RabbitMQ's confirmation when the broker went away waits for it forever
    /// (RabbitMQ.Client 7.2, rabbitmq-dotnet-client#1930): its channel is gone, so no confirmation comes. Without a
    /// limit, that one await held a consumer, and with it the whole receive endpoint, which reconnects only once its
    /// deliveries finish.
    /// </summary>
    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Runs one attempt (a publish, a send, a statement), ending it with a <see cref="TimeoutException"/> (an
    /// infrastructure fault, which the caller's retry or re-drive takes up) when it has not finished within
    /// <see cref="AttemptTimeout"/>. For any publish or send whose token is not cancelled when the connection drops
    /// (every one outside a consumer's own <c>ConsumeContext</c> token).
    /// </summary>
    public static async Task<T> WithinAttemptTimeoutAsync<T>(Func<CancellationToken, Task<T>> action, TimeProvider time, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(AttemptTimeout, time);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            return await action(attempt.Token);
        }
        catch (OperationCanceledException ex) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"No answer from the infrastructure within {AttemptTimeout.TotalSeconds:0} s", ex);
        }
    }

    /// <inheritdoc cref="WithinAttemptTimeoutAsync{T}(Func{CancellationToken, Task{T}}, TimeProvider, CancellationToken)"/>
    public static Task WithinAttemptTimeoutAsync(Func<CancellationToken, Task> action, TimeProvider time, CancellationToken cancellationToken) =>
        WithinAttemptTimeoutAsync(async ct => { await action(ct); return true; }, time, cancellationToken);

    /// <summary>
    /// Runs one idempotent database statement (or publish) in place until the infrastructure answers, backing off like
    /// the infrastructure ladder but without a limit: for work whose loss would cost a paid crew call again (the answer
    /// in hand must be recorded). Each attempt ends within <see cref="AttemptTimeout"/>; only
    /// <paramref name="cancellationToken"/> stops the whole. Each retry is logged, with its cause.
    /// </summary>
    public static async Task<T> UntilInfrastructureAnswersAsync<T>(
        Func<CancellationToken, Task<T>> action, TimeProvider time, CancellationToken cancellationToken, ILogger logger)
    {
        var delay = InfrastructureMinInterval;
        while (true)
        {
            try
            {
                return await WithinAttemptTimeoutAsync(action, time, cancellationToken);
            }
            catch (Exception ex) when (IsInfrastructureFault(ex) && !cancellationToken.IsCancellationRequested)
            {
                LogRetryingInPlace(logger, ex.GetType().Name, ex.Message, delay.TotalMilliseconds);
                await Task.Delay(delay, time, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(InfrastructureMaxInterval.Ticks, (delay + InfrastructureIntervalDelta).Ticks * 2));
            }
        }
    }

    /// <inheritdoc cref="UntilInfrastructureAnswersAsync{T}(Func{CancellationToken, Task{T}}, TimeProvider, CancellationToken, ILogger)"/>
    public static Task UntilInfrastructureAnswersAsync(
        Func<CancellationToken, Task> action, TimeProvider time, CancellationToken cancellationToken, ILogger logger) =>
        UntilInfrastructureAnswersAsync(async ct => { await action(ct); return true; }, time, cancellationToken, logger);

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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Infrastructure did not answer ({ExceptionType}: {Reason}); trying again in place in {DelayMs} ms")]
    private static partial void LogRetryingInPlace(ILogger logger, string exceptionType, string reason, double delayMs);
}
