using MassTransit;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// The delivery limit for poison messages: a message that RabbitMQ has delivered more than <see cref="Limit"/> times
/// (each time its consumer's process died or its channel closed before the acknowledgement) is moved to the
/// endpoint's <c>_error</c> queue instead of crashing consumers for ever. Quorum queues count deliveries in the
/// <c>x-delivery-count</c> header. A filter rather than the queue's <c>x-delivery-limit</c> argument: the message
/// faults like any other, so MassTransit moves it to <c>_error</c> with the exception in its headers, and the queue
/// (declared by its consumer alone, <see cref="ServiceDefaultsExtensions.UsePlatformQueue"/>) needs no delivery-limit
/// argument and no dead-letter binding.
/// </summary>
public sealed class DeliveryLimitFilter : IFilter<ConsumeContext>
{
    public const int Limit = 20;

    public Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
    {
        if (context.ReceiveContext.TransportHeaders.TryGetHeader("x-delivery-count", out var value)
            && Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) >= Limit)
        {
            throw new PoisonMessageException($"Delivered {value} times without being acknowledged: parked as a poison message");
        }

        return next.Send(context);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("deliveryLimit");
}

public sealed class PoisonMessageException(string message) : Exception(message);
