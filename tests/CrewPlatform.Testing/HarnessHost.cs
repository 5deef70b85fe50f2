using MassTransit;
using MassTransit.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CrewPlatform.Testing;

/// <summary>
/// A service's registrations with MassTransit's in-memory test harness as their bus: no broker, and every message
/// sent, published and consumed is recorded. Build the services as the service does, then start them here.
/// </summary>
public sealed class HarnessHost : IAsyncDisposable
{
    private readonly ServiceProvider provider;

    private HarnessHost(ServiceProvider provider, ITestHarness harness)
    {
        this.provider = provider;
        Harness = harness;
    }

    public ITestHarness Harness { get; }

    public IServiceProvider Services => provider;

    /// <param name="services">The service's registrations, without a bus.</param>
    /// <param name="addConsumers">The service's own consumer registration (e.g. <c>x =&gt; x.AddSchedulerConsumers()</c>).</param>
    /// <param name="timeout">How long the harness's <c>Any</c> waits for a message.</param>
    /// <param name="inactivityTimeout">How long the bus may be quiet before the harness stops waiting; MassTransit's default when null.</param>
    /// <param name="replaceServices">Runs after every registration, so a test can swap one (e.g. a failing publisher).</param>
    public static async Task<HarnessHost> StartAsync(
        IServiceCollection services, Action<IBusRegistrationConfigurator> addConsumers, TimeSpan timeout,
        TimeSpan? inactivityTimeout = null, Action<IServiceCollection>? replaceServices = null)
    {
        services.AddTestHarness(addConsumers, timeout, inactivityTimeout);
        replaceServices?.Invoke(services);

        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        var harness = provider.GetRequiredService<ITestHarness>();
        await harness.Start();
        return new HarnessHost(provider, harness);
    }

    public async Task<T> InScopeAsync<T>(Func<IServiceProvider, Task<T>> action)
    {
        await using var scope = provider.CreateAsyncScope();
        return await action(scope.ServiceProvider);
    }

    /// <summary>The messages of a type sent so far (the harness's own Select waits for more until its timeout).</summary>
    public List<T> SentSoFar<T>() where T : class =>
        Harness.Sent.Select<T>(new CancellationToken(canceled: true)).Select(m => m.Context.Message).ToList();

    public List<T> PublishedSoFar<T>() where T : class =>
        Harness.Published.Select<T>(new CancellationToken(canceled: true)).Select(m => m.Context.Message).ToList();

    public List<T> ConsumedSoFar<T>() where T : class =>
        Harness.Consumed.Select<T>(new CancellationToken(canceled: true)).Select(m => m.Context.Message).ToList();

    public async ValueTask DisposeAsync()
    {
        await Harness.Stop();
        await provider.DisposeAsync();
    }
}

public static class TestHarnessRegistration
{
    /// <summary>
    /// Registers the in-memory test harness as the bus, with the service's consumers, in place of RabbitMQ; also used to
    /// swap the bus of a whole service under <see cref="ServiceApp{TProgram}"/>.
    /// </summary>
    public static IServiceCollection AddTestHarness(
        this IServiceCollection services, Action<IBusRegistrationConfigurator>? addConsumers = null, TimeSpan? timeout = null, TimeSpan? inactivityTimeout = null)
    {
        services.AddMassTransitTestHarness(x => addConsumers?.Invoke(x));
        if (timeout is { } testTimeout)
        {
            services.Configure<TestHarnessOptions>(options =>
            {
                options.TestTimeout = testTimeout;
                if (inactivityTimeout is { } inactivity)
                {
                    options.TestInactivityTimeout = inactivity;
                }
            });
        }

        return services;
    }
}
