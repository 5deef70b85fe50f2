using Scalar.AspNetCore;

namespace CrewPlatform.Gateway.Apis;

/// <summary>
/// The API reference at <c>/docs</c>: each backend's own OpenAPI document, fetched through the gateway
/// (routes <c>openapi-*</c> in appsettings.json), so the page covers the whole <c>/api</c> surface.
/// </summary>
public static class DocsApi
{
    public static IEndpointRouteBuilder MapDocsApi(this IEndpointRouteBuilder app)
    {
        app.MapScalarApiReference("/docs", options => options
            .WithTitle("CrewPlatform API")
            .AddDocument("scheduler", "Scheduler", "/openapi/scheduler.json", isDefault: true)
            .AddDocument("crew-responses", "Crew responses", "/openapi/crew-responses.json")
            .AddDocument("webhooks", "Webhooks", "/openapi/webhooks.json")
            // "Try it" goes to this gateway (with the token), never to a backend's internal address.
            .AddServer("/", "CrewPlatform gateway")
            // Nothing from the internet: the page's scripts are served by the gateway itself; its default fonts and
            // telemetry would come from Scalar's servers (and the page's Content-Security-Policy blocks them).
            .DisableDefaultFonts()
            .DisableTelemetry());
        return app;
    }
}
