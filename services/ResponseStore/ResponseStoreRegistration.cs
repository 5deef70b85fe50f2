using CrewPlatform.ResponseStore.Apis;
using CrewPlatform.ResponseStore.Consumers;
using CrewPlatform.ResponseStore.Persistence;
using CrewPlatform.ResponseStore.Retention;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.ServiceDefaults.Audit;
using CrewPlatform.ServiceDefaults.Retention;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CrewPlatform.ResponseStore;

public static class ResponseStoreRegistration
{
    /// <summary>The database, the bus with the ResponseStore's consumers, and the answer retention pass.</summary>
    public static WebApplicationBuilder AddResponseStore(this WebApplicationBuilder builder)
    {
        builder.AddPostgresDbContext<WebApplicationBuilder, ResponseStoreDbContext>(ResponseStoreDbContext.HistorySchema);
        builder.AddValidatedOptions<ResponseStoreOptions>();
        builder.AddAuditTrail("response-store");
        builder.AddMessaging(x => x.AddResponseStoreConsumers());
        builder.Services.AddRetentionPass<ResponseRetention>();
        builder.Services.DescribeOpenApi("CrewPlatform crew responses", ("CrewResponses", "The crew's answers, one per run and user"));
        return builder;
    }

    /// <summary><c>/api/crew-responses</c>.</summary>
    public static WebApplication MapResponseStore(this WebApplication app)
    {
        app.MapCrewResponsesApi();
        return app;
    }

    /// <summary>The ResponseStore's consumers and what they need, for the service's bus and for harness tests alike.</summary>
    public static IBusRegistrationConfigurator AddResponseStoreConsumers(this IBusRegistrationConfigurator x)
    {
        x.TryAddSingleton(TimeProvider.System);
        x.TryAddScoped<CrewResponseBatchWriter>();
        x.AddMetrics();
        x.TryAddSingleton<ResponseStoreMetrics>();
        x.AddConsumer<CrewResponseReceivedConsumer, CrewResponseReceivedConsumerDefinition>();
        return x;
    }
}
