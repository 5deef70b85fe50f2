using System.Security.Cryptography;
using System.Text;
using CrewPlatform.Gateway.Apis;
using CrewPlatform.Gateway.Auth;
using CrewPlatform.Gateway.Proxy;
using CrewPlatform.Gateway.RateLimiting;
using CrewPlatform.ServiceDefaults;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Gateway;

public static partial class GatewayRegistration
{
    /// <summary>YARP from the <c>ReverseProxy</c> section, the admin token, the per-client rate limit, backend readiness.</summary>
    public static WebApplicationBuilder AddGateway(this WebApplicationBuilder builder)
    {
        builder.AddValidatedOptions<GatewayOptions>();
        builder.RefuseInProduction(DefaultSecrets.Refusal(GatewayOptions.AdminTokenKey, builder.Configuration[GatewayOptions.AdminTokenKey]?.Trim()));

        builder.Services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
            .AddConfigFilter<BackendOverrides>();

        builder.Services
            .AddAuthentication(AdminTokenAuthenticationHandler.SchemeName)
            .AddScheme<AdminTokenOptions, AdminTokenAuthenticationHandler>(AdminTokenAuthenticationHandler.SchemeName, _ => { });
        builder.Services.AddOptions<AdminTokenOptions>(AdminTokenAuthenticationHandler.SchemeName)
            .Configure<IOptions<GatewayOptions>>((options, gateway) =>
            {
                options.Disabled = gateway.Value.AuthDisabled;
                options.TokenHash = gateway.Value.Token is { } token ? SHA256.HashData(Encoding.UTF8.GetBytes(token)) : null;
            });
        builder.Services.AddAuthorizationBuilder().AddPolicy(AdminTokenAuthenticationHandler.PolicyName, policy => policy
            .AddAuthenticationSchemes(AdminTokenAuthenticationHandler.SchemeName)
            .RequireAuthenticatedUser());

        builder.Services.AddClientRateLimiting();

        builder.Services.AddHealthChecks().AddCheck<BackendsHealthCheck>("backends", tags: [ServiceDefaultsExtensions.ReadyTag]);
        return builder;
    }

    public static WebApplication MapGateway(this WebApplication app)
    {
        // Resolved here, before anything is mapped: a bad setting stops the gateway at once, naming the setting.
        var settings = app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value;
        if (settings.AuthDisabled)
        {
            LogAuthDisabled(app.Logger, GatewayOptions.AuthDisabledKey);
        }

        // Limit first, so that guessing tokens costs the same allowance as using one.
        app.UseRateLimiter();
        app.UseAuthentication();
        app.UseAuthorization();

        app.MapDocsApi();

        // Any other /api/* path: still behind the token and the limit, then the envelope's 404.
        app.MapFallback("/api/{**rest}", () => ApiResults.NotFound("Not found"))
            .RequireAuthorization(AdminTokenAuthenticationHandler.PolicyName)
            .RequireRateLimiting(ClientRateLimiting.PolicyName);

        app.MapReverseProxy(proxy =>
        {
            proxy.Use(ProxyErrorEnvelope.WriteOnProxyErrorAsync);
            proxy.UseSessionAffinity();
            proxy.UseLoadBalancing();
            proxy.UsePassiveHealthChecks();
        });
        return app;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Setting}=true: authentication is OFF, anyone who reaches the gateway can call /api/*")]
    private static partial void LogAuthDisabled(ILogger logger, string setting);
}
