using System.Diagnostics;
using CrewPlatform.Gateway.Auth;

namespace CrewPlatform.Gateway.Security;

/// <summary>
/// One line per <c>/api/*</c> call: method, path, status, time, client IP (after the known proxies' headers) and the
/// client's name (an API key's name or a token's subject, never the credential; <c>-</c> when it presented none that
/// was accepted).
/// </summary>
public static partial class AccessLog
{
    public static async Task WriteAsync(HttpContext context, Func<Task> next)
    {
        if (!context.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase))
        {
            await next();
            return;
        }

        var started = Stopwatch.GetTimestamp();
        await next();

        var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(AccessLog));
        LogCall(
            logger,
            context.Request.Method,
            context.Request.Path,
            context.Response.StatusCode,
            (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            context.Connection.RemoteIpAddress?.ToString() ?? "-",
            context.User.ClientName() ?? "-");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Method} {Path} answered {StatusCode} in {ElapsedMs} ms to {ClientIp} as {Client}")]
    private static partial void LogCall(ILogger logger, string method, string path, int statusCode, long elapsedMs, string clientIp, string client);
}
