using System.Text;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// Last line of defence: any exception that escapes an endpoint becomes the contract's error envelope.
/// Framework rejections of the request (malformed JSON, body too large) keep their 4xx status, a value PostgreSQL
/// refuses as data is a 400; everything else is a 500 whose body says nothing about internals (no stack trace, SQL or host name).
/// </summary>
public sealed partial class EnvelopeExceptionHandler(ILogger<EnvelopeExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, message) = exception switch
        {
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => (413, "Request body too large"),
            BadHttpRequestException bad when bad.InnerException is System.Text.Json.JsonException => (400, "Request body is not valid JSON"),
            BadHttpRequestException bad => (bad.StatusCode, "Bad request"),
            OperationCanceledException when httpContext.RequestAborted.IsCancellationRequested => (499, "Client closed request"),
            _ when IsUnstorableValue(exception) => (400, UnstorableValue),
            _ => (500, "Internal server error"),
        };

        if (status >= 500)
        {
            LogUnhandled(logger, exception, httpContext.Request.Method, httpContext.Request.Path);
        }
        else if (status == 400 && message == UnstorableValue)
        {
            // A 400, yet logged: it is a bug in the endpoint too, which should have refused the value itself.
            LogUnstorable(logger, exception, httpContext.Request.Method, httpContext.Request.Path);
        }

        if (httpContext.Response.HasStarted)
        {
            return false;
        }

        httpContext.Response.StatusCode = status;
        await httpContext.Response.WriteAsJsonAsync(new ErrorEnvelope(message), cancellationToken);
        return true;
    }

    public const string UnstorableValue = "Request contains a value that cannot be stored";

    /// <summary>
    /// A value from the request that PostgreSQL refused as data (class 22: a NUL in text, an unsupported \u0000 in
    /// jsonb, a number or date out of range ...) or that Npgsql could not even encode (a lone UTF-16 surrogate).
    /// </summary>
    private static bool IsUnstorableValue(Exception? exception) => exception switch
    {
        null => false,
        PostgresException postgres => postgres.SqlState.StartsWith("22", StringComparison.Ordinal),
        EncoderFallbackException => true,
        _ => IsUnstorableValue(exception.InnerException),
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "A value PostgreSQL cannot store reached the database for {Method} {Path}: answered 400")]
    private static partial void LogUnstorable(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception for {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path);
}
