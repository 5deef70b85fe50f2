using CrewPlatform.Gateway.Apis;
using CrewPlatform.Gateway.Auth;
using CrewPlatform.Gateway.Dashboard;
using CrewPlatform.Gateway.Proxy;
using CrewPlatform.Gateway.RateLimiting;
using CrewPlatform.Gateway.Security;
using CrewPlatform.ServiceDefaults;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Gateway;

public static partial class GatewayRegistration
{
    /// <summary>
    /// The scheme <c>/api/*</c> authenticates with: a JWT-shaped bearer value goes to the JWT handler (when on), any other
    /// to the API keys; no Authorization header but the dashboard's session cookie goes to the session.
    /// </summary>
    private const string CredentialScheme = "Credential";

    /// <summary>
    /// YARP from the <c>ReverseProxy</c> section, API keys and optional JWT with roles, the per-client rate limit,
    /// the known proxies' forwarded headers, backend readiness, the management port.
    /// </summary>
    public static WebApplicationBuilder AddGateway(this WebApplicationBuilder builder)
    {
        builder.AddValidatedOptions<GatewayOptions>();
        builder.RefuseInProduction(DefaultSecrets.Refusal(GatewayOptions.AdminTokenKey, builder.Configuration[GatewayOptions.AdminTokenKey]?.Trim()));
        builder.RefuseInProduction(bool.TryParse(builder.Configuration[GatewayOptions.AuthDisabledKey], out var authDisabled) && authDisabled
            ? $"{GatewayOptions.AuthDisabledKey} is true: /api/* would answer anyone; remove it before running in Production"
            : null);

        builder.Services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
            .AddConfigFilter<BackendOverrides>()
            .AddTransforms(ActorHeader.Add);

        builder.Services
            .AddAuthentication(CredentialScheme)
            .AddPolicyScheme(CredentialScheme, "API key, JWT or dashboard session", options => options.ForwardDefaultSelector = context =>
                DashboardSession.UsesSession(context.Request) ? DashboardSession.SchemeName
                : context.RequestServices.GetRequiredService<IOptions<GatewayOptions>>().Value is { JwtEnabled: true, AuthDisabled: false }
                && ApiKeyAuthenticationHandler.BearerValue(context.Request) is { } bearer
                && JwtBearerSetup.LooksLikeJwt(bearer)
                    ? JwtBearerSetup.SchemeName
                    : ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<ApiKeyOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, _ => { })
            .AddJwtBearer(JwtBearerSetup.SchemeName, _ => { })
            .AddDashboardSession();
        builder.Services.AddOptions<ApiKeyOptions>(ApiKeyAuthenticationHandler.SchemeName)
            .Configure<IOptions<GatewayOptions>>((options, gateway) =>
            {
                options.Disabled = gateway.Value.AuthDisabled;
                options.Keys = gateway.Value.ApiKeyList().Keys;
            });
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerSetup.SchemeName)
            .Configure<IOptions<GatewayOptions>>((options, gateway) => JwtBearerSetup.Configure(options, gateway.Value));
        builder.Services.AddAuthorizationBuilder().AddApiAccessPolicy(CredentialScheme);
        builder.Services.AddSingleton<IAuthorizationMiddlewareResultHandler, ApiAccess.ForbiddenInEnvelope>();

        builder.Services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<GatewayOptions>>((options, gateway) =>
        {
            options.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            // Only the configured proxies are believed (ASP.NET trusts loopback by default), through as many of them as
            // the request passed: the client is the nearest address that is not a known proxy.
            options.KnownProxies.Clear();
            options.KnownIPNetworks.Clear();
            options.ForwardLimit = null;
            foreach (var (_, address, network) in gateway.Value.TrustedProxies())
            {
                if (address is not null)
                {
                    options.KnownProxies.Add(address);
                }
                else if (network is { } known)
                {
                    options.KnownIPNetworks.Add(known);
                }
            }
        });

        builder.Services.AddClientRateLimiting();
        builder.Services.AddQueueDepths();
        builder.Services.AddManagementPort();

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

        // First: the management port answers /metrics and nothing of what follows.
        app.MapManagementPort(settings);
        app.Use(SecurityHeaders.AddAsync);

        // The dashboard's static files (wwwroot: index.html at /, the rest under /dashboard/): no credential, no data.
        app.UseDefaultFiles();
        app.UseStaticFiles();

        // Before the limit, so it counts per real client. A connection without an address (not TCP) has no peer to
        // trust, and the middleware would believe its headers: it is left alone.
        if (settings.TrustedProxies().Any())
        {
            app.UseWhen(context => context.Connection.RemoteIpAddress is not null, branch => branch.UseForwardedHeaders());
        }

        app.Use(AccessLog.WriteAsync);

        // Limit first, so that guessing keys costs the same allowance as using one.
        app.UseRateLimiter();
        app.UseAuthentication();
        app.Use(DashboardSession.RequireAntiForgeryAsync);
        app.UseAuthorization();

        app.MapDocsApi();
        app.MapDashboardSession();
        app.MapQueueDepths();

        // Any other /api/* path: still behind the credential and the limit, then the envelope's 404.
        app.MapFallback("/api/{**rest}", () => ApiResults.NotFound("Not found"))
            .RequireAuthorization(ApiAccess.PolicyName)
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
