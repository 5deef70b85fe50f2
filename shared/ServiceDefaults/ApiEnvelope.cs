using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// The wire contract's success envelope: <c>{"success":true,"data":...,"message"?,"count"?,"total"?,"nextCursor"?}</c>. Data is an
/// object, a list or text: System.Text.Json refuses WhenWritingNull on a value type at the first response, a 500.
/// </summary>
public sealed record SuccessEnvelope<T>(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] T? Data,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Message = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Count = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? Total = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NextCursor = null)
    where T : class?
{
    [JsonPropertyOrder(-1)]
    public bool Success => true;
}

/// <summary>The wire contract's failure envelope: <c>{"success":false,"error":"..."}</c>.</summary>
public sealed record ErrorEnvelope(string Error)
{
    [JsonPropertyOrder(-1)]
    public bool Success => false;
}

/// <summary>
/// Bad input found while binding a request, by a parameter type's <c>BindAsync</c>: <see cref="EnvelopeExceptionHandler"/>
/// answers it with this status and this very message in the error envelope. Binding can refuse a value only by throwing:
/// a failed <c>TryParse</c> gives a bare 400 that cannot say what was wrong.
/// </summary>
public sealed class InvalidRequestException(string message, int statusCode = StatusCodes.Status400BadRequest)
    : BadHttpRequestException(message, statusCode);

/// <summary>Results in the contract's envelope, so every service answers the same shape.</summary>
public static class ApiResults
{
    public static IResult Ok<T>(T data, string? message = null, int? count = null, long? total = null, string? nextCursor = null)
        where T : class? =>
        Results.Json(new SuccessEnvelope<T>(data, message, count, total, nextCursor));

    public static IResult Created<T>(string location, T data) where T : class? =>
        Results.Json(new SuccessEnvelope<T>(data), statusCode: StatusCodes.Status201Created)
            .WithLocation(location);

    public static IResult Accepted<T>(string location, T data, string? message = null) where T : class? =>
        Results.Json(new SuccessEnvelope<T>(data, message), statusCode: StatusCodes.Status202Accepted)
            .WithLocation(location);

    public static IResult Message(string message) => Results.Json(new SuccessEnvelope<object>(null, message));

    public static IResult Error(int statusCode, string error) => Results.Json(new ErrorEnvelope(error), statusCode: statusCode);

    public static IResult BadRequest(string error) => Error(StatusCodes.Status400BadRequest, error);

    public static IResult NotFound(string error) => Error(StatusCodes.Status404NotFound, error);

    private static IResult WithLocation(this IResult result, string location) => new LocatedResult(result, location);

    private sealed class LocatedResult(IResult inner, string location) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.Location = location;
            return inner.ExecuteAsync(httpContext);
        }
    }
}
