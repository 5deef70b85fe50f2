using System.Reflection;
using MassTransit;

namespace CrewPlatform.Scheduler.Tests;

/// <summary>
/// An <see cref="IPublishEndpoint"/> whose first publish fails as if RabbitMQ were unreachable; every later call goes
/// to the real bus. A proxy, because the interface has a dozen publish overloads and any one of them may be used.
/// </summary>
public class FailingFirstPublish : DispatchProxy
{
    private IBus bus = null!;
    private int publishes;

    public static IPublishEndpoint Over(IBus bus)
    {
        var proxy = Create<IPublishEndpoint, FailingFirstPublish>();
        ((FailingFirstPublish)(object)proxy).bus = bus;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        if (targetMethod.Name == nameof(IPublishEndpoint.Publish) && Interlocked.Increment(ref publishes) == 1)
        {
            return Task.FromException(new TimeoutException("RabbitMQ did not answer"));
        }

        return targetMethod.Invoke(bus, args);
    }
}
