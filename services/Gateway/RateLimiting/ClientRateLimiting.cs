using System.Globalization;
using System.Threading.RateLimiting;
using CrewPlatform.ServiceDefaults;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Gateway.RateLimiting;

/// <summary>
/// A fixed one-minute window per client IP address, answered with 429, Retry-After and the envelope. The address is
/// the connection's, or the client a known proxy forwarded (<c>CREW_GATEWAY_KNOWN_PROXIES</c>, applied before this).
/// </summary>
public static class ClientRateLimiting
{
    public const string PolicyName = "per-client";

    public static IServiceCollection AddClientRateLimiting(this IServiceCollection services)
    {
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<GatewayOptions>>((options, gateway) =>
        {
            var permitsPerMinute = gateway.Value.RateLimitPerMinute;
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.AddPolicy(PolicyName, context => permitsPerMinute <= 0
                ? RateLimitPartition.GetNoLimiter("unlimited")
                // By address, not by presented token: a client must not get a fresh allowance per made-up token.
                : RateLimitPartition.GetFixedWindowLimiter(
                    context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                    _ => new FixedWindowRateLimiterOptions
                    {
                        PermitLimit = permitsPerMinute,
                        Window = TimeSpan.FromMinutes(1),
                        QueueLimit = 0,
                    }));
            options.OnRejected = async (context, cancellationToken) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromMinutes(1);
                var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                var response = context.HttpContext.Response;
                response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await response.WriteAsJsonAsync(
                    new ErrorEnvelope($"Too many requests: at most {permitsPerMinute} per minute; retry after {seconds} s"),
                    cancellationToken);
            };
        });
        return services.AddRateLimiter(_ => { });
    }
}
