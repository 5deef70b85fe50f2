using CrewPlatform.ServiceDefaults;
using Yarp.ReverseProxy.Forwarder;

namespace CrewPlatform.Gateway.Proxy;

/// <summary>
/// YARP answers a failed forward with a bare status code. This step of the proxy pipeline turns it into the
/// contract's envelope, without naming the backend's address.
/// </summary>
public static partial class ProxyErrorEnvelope
{
    public static async Task WriteOnProxyErrorAsync(HttpContext context, Func<Task> next)
    {
        await next();

        var error = context.GetForwarderErrorFeature();
        if (error is null || context.Response.HasStarted)
        {
            return;
        }

        var (status, message) = error.Error switch
        {
            ForwarderError.NoAvailableDestinations => (StatusCodes.Status503ServiceUnavailable, "Service unavailable: no healthy backend for this route"),
            ForwarderError.RequestTimedOut => (StatusCodes.Status504GatewayTimeout, "Gateway timeout: the backend did not answer in time"),
            ForwarderError.RequestCanceled => (context.Response.StatusCode, "Request canceled"),
            // The client's fault, not the backend's: Kestrel refused the body while YARP was copying it.
            ForwarderError.RequestBodyClient when IsBodyTooLarge(error.Exception) => (StatusCodes.Status413PayloadTooLarge, "Request body too large"),
            ForwarderError.RequestBodyClient => (StatusCodes.Status400BadRequest, "Bad request: the request body could not be read"),
            _ => (StatusCodes.Status502BadGateway, "Bad gateway: the backend could not be reached or answered badly"),
        };

        var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ProxyErrorEnvelope));
        // YARP has already logged the exception itself; this line ties the status we answer to the request.
        LogProxyError(logger, error.Error, status, context.Request.Method, context.Request.Path);

        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(new ErrorEnvelope(message));
    }

    private static bool IsBodyTooLarge(Exception? exception) => exception switch
    {
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => true,
        AggregateException aggregate => aggregate.InnerExceptions.Any(IsBodyTooLarge),
        { InnerException: { } inner } => IsBodyTooLarge(inner),
        _ => false,
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Proxy error {ProxyError} for {Method} {Path}: answered {StatusCode}")]
    private static partial void LogProxyError(ILogger logger, ForwarderError proxyError, int statusCode, string method, string path);
}
