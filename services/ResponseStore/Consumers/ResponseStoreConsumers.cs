using CrewPlatform.ResponseStore.Persistence;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CrewPlatform.ResponseStore.Consumers;

public static class ResponseStoreConsumers
{
    /// <summary>The ResponseStore's consumers and what they need; used by Program.cs and by the harness tests.</summary>
    public static IBusRegistrationConfigurator AddResponseStoreConsumers(this IBusRegistrationConfigurator x)
    {
        x.TryAddSingleton(TimeProvider.System);
        x.TryAddScoped<CrewResponseBatchWriter>();
        x.AddConsumer<CrewResponseReceivedConsumer, CrewResponseReceivedConsumerDefinition>();
        return x;
    }
}
