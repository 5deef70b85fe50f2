using System.Collections.Concurrent;
using MassTransit;

namespace CrewPlatform.Testing;

/// <summary>
/// A MassTransit bus of the test's own on a fixture's RabbitMQ virtual host: queues that record every message of the
/// types asked for (so a test can listen like another service does), and a publisher to play that service.
/// Its queues are durable quorum queues, declared as a service's own are: what is published while the listener is
/// stopped waits there, and a listener may stand in for a service on a queue the Scheduler declared ahead of it.
/// </summary>
public sealed class BusListener : IAsyncDisposable
{
    private readonly RealInfrastructure infrastructure;
    private readonly Dictionary<string, List<Action<IReceiveEndpointConfigurator>>> queues = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> prefetch = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Type, ConcurrentQueue<object>> received = new();
    private IBusControl? bus;

    public BusListener(RealInfrastructure infrastructure) => this.infrastructure = infrastructure;

    /// <summary>The bus, once started: publish or send as another service would.</summary>
    public IBus Bus => bus ?? throw new InvalidOperationException("Call StartAsync first");

    /// <summary>Records every <typeparamref name="T"/> that reaches <paramref name="queue"/> (one queue may record several types).</summary>
    /// <param name="prefetchCount">How many messages the queue takes at once; raise it for a fan-out of thousands.</param>
    public BusListener Record<T>(string queue, int? prefetchCount = null) where T : class
    {
        var recorded = received.GetOrAdd(typeof(T), _ => new ConcurrentQueue<object>());
        if (!queues.TryGetValue(queue, out var handlers))
        {
            queues[queue] = handlers = [];
        }

        handlers.Add(endpoint => endpoint.Handler<T>(context =>
        {
            recorded.Enqueue(context.Message);
            return Task.CompletedTask;
        }));
        if (prefetchCount is { } count)
        {
            prefetch[queue] = count;
        }

        return this;
    }

    /// <summary>
    /// Records every <typeparamref name="TRequest"/> that reaches <paramref name="queue"/> and, when it was sent as a
    /// request, answers it with <paramref name="answer"/>: plays the service that would answer it.
    /// </summary>
    public BusListener Answer<TRequest, TResponse>(string queue, Func<TRequest, TResponse> answer) where TRequest : class where TResponse : class
    {
        var recorded = received.GetOrAdd(typeof(TRequest), _ => new ConcurrentQueue<object>());
        if (!queues.TryGetValue(queue, out var handlers))
        {
            queues[queue] = handlers = [];
        }

        handlers.Add(endpoint => endpoint.Handler<TRequest>(async context =>
        {
            recorded.Enqueue(context.Message);
            if (context.ResponseAddress is not null)
            {
                await context.RespondAsync(answer(context.Message));
            }
        }));
        return this;
    }

    /// <summary>The <typeparamref name="T"/> messages received so far, in order of arrival.</summary>
    public IReadOnlyList<T> Received<T>() where T : class =>
        received.TryGetValue(typeof(T), out var messages) ? messages.Cast<T>().ToList() : [];

    /// <summary>How many <typeparamref name="T"/> messages have been received so far.</summary>
    public int Count<T>() where T : class => received.TryGetValue(typeof(T), out var messages) ? messages.Count : 0;

    public async Task<BusListener> StartAsync()
    {
        var rabbit = infrastructure.RabbitMq;
        bus = MassTransit.Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(rabbit.Host, (ushort)rabbit.Port, rabbit.VirtualHost, h =>
            {
                h.Username(rabbit.Username);
                h.Password(rabbit.Password);
            });
            foreach (var (queue, handlers) in queues)
            {
                cfg.ReceiveEndpoint(queue, endpoint =>
                {
                    endpoint.SetQuorumQueue();
                    if (prefetch.TryGetValue(queue, out var count))
                    {
                        endpoint.PrefetchCount = count;
                    }

                    handlers.ForEach(handler => handler(endpoint));
                });
            }
        });
        await bus.StartAsync();
        return this;
    }

    /// <summary>Stops listening; messages published meanwhile stay in the listener's queues.</summary>
    public async Task StopAsync()
    {
        if (bus is not null)
        {
            await bus.StopAsync();
            bus = null;
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
