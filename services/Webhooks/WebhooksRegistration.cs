using CrewPlatform.ServiceDefaults;
using CrewPlatform.ServiceDefaults.Audit;
using CrewPlatform.ServiceDefaults.Retention;
using CrewPlatform.Webhooks.Apis;
using CrewPlatform.Webhooks.Consumers;
using CrewPlatform.Webhooks.Delivery;
using CrewPlatform.Webhooks.Persistence;
using CrewPlatform.Webhooks.Retention;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Webhooks;

public static class WebhooksRegistration
{
    /// <summary>Settings, the database, the delivery queue and its dispatcher, the deliveries' retention pass, and the bus with the events webhooks carry.</summary>
    public static WebApplicationBuilder AddWebhooks(this WebApplicationBuilder builder)
    {
        builder.AddPostgresDbContext<WebApplicationBuilder, WebhooksDbContext>(WebhooksDbContext.Schema);
        builder.AddValidatedOptions<WebhooksOptions>();
        builder.AddAuditTrail("webhooks");
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<WebhookTargets>();
        builder.Services.AddSingleton<DeliveryQueue>();
        builder.Services.AddHttpClient(WebhookSender.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(services => services.GetRequiredService<WebhookTargets>().CreateHandler())
            .ConfigureHttpClient((services, client) => client.Timeout = services.GetRequiredService<IOptions<WebhooksOptions>>().Value.Timeout);
        builder.Services.AddHostedService<WebhookDispatcher>();
        builder.AddRunHistoryRetention<WebApplicationBuilder, DeliveryRetention>();
        builder.AddMessaging(x => x.AddWebhooksConsumers());
        builder.Services.DescribeOpenApi("CrewPlatform webhooks", ("Webhooks", "Subscriptions to the platform's events, delivered as signed POSTs"));
        return builder;
    }

    /// <summary><c>/api/webhooks</c>.</summary>
    public static WebApplication MapWebhooks(this WebApplication app)
    {
        app.MapWebhooksApi();
        return app;
    }

    /// <summary>The events that become deliveries, for the service's bus and for harness tests alike.</summary>
    public static IBusRegistrationConfigurator AddWebhooksConsumers(this IBusRegistrationConfigurator x)
    {
        x.AddConsumer<CrewRunCompletedConsumer, CrewRunCompletedConsumerDefinition>();
        x.AddConsumer<CrewRunSkippedConsumer, CrewRunSkippedConsumerDefinition>();
        x.AddConsumer<CrewResponseStoredConsumer, CrewResponseStoredConsumerDefinition>();
        x.AddConsumer<CrewApiAvailabilityChangedConsumer, CrewApiAvailabilityChangedConsumerDefinition>();
        return x;
    }
}
