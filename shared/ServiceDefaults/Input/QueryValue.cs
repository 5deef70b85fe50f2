using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.OpenApi;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// What every query-string value type shares: one value per name (a repeated one is refused, not joined with commas),
/// named in a refusal as the client spelt it (camelCase), and whole numbers read strictly.
/// </summary>
public static class QueryValue
{
    public static string? Single(HttpContext http, ParameterInfo parameter) => Single(http, parameter, out _);

    /// <summary>The parameter as the OpenAPI document describes it: a query value by its camelCase name, with what it means when given.</summary>
    public static void Describe(ParameterInfo parameter, EndpointBuilder builder, string type, string? format = null, string? description = null) =>
        builder.Metadata.Add(new BoundValueSchema(JsonNamingPolicy.CamelCase.ConvertName(parameter.Name!), ParameterLocation.Query, type, format, description));

    /// <summary>The parameter's value, null when absent or empty.</summary>
    public static string? Single(HttpContext http, ParameterInfo parameter, out string name)
    {
        name = JsonNamingPolicy.CamelCase.ConvertName(parameter.Name!);
        var values = http.Request.Query[name];
        return values.Count > 1
            ? throw new InvalidRequestException($"{name} must be given at most once")
            : values.ToString() is { Length: > 0 } value ? value : null;
    }

    /// <summary>The parameter as a name by <paramref name="isName"/>, or null when not given; refused as <c>{name} must be {rule}</c>.</summary>
    public static string? Name(HttpContext http, ParameterInfo parameter, Func<string, bool> isName, string rule) =>
        Single(http, parameter, out var name) switch
        {
            null => null,
            var text when isName(text) => text,
            _ => throw new InvalidRequestException($"{name} must be {rule}"),
        };

    /// <summary>The parameter as a <see cref="WholeNumber">whole number</see> from <paramref name="min"/> to <paramref name="max"/>, or <paramref name="absent"/>.</summary>
    public static int WholeNumber(HttpContext http, ParameterInfo parameter, int absent, int min, int max = int.MaxValue) =>
        Single(http, parameter, out var name) switch
        {
            null => absent,
            var text when ServiceDefaults.WholeNumber.TryParse(text, out var value) && value >= min && value <= max => value,
            _ => throw new InvalidRequestException(max == int.MaxValue
                ? $"{name} must be a whole number of {min} or more"
                : $"{name} must be a whole number from {min} to {max}"),
        };
}

/// <summary>
/// <c>limit</c>: how many rows a page holds, 0 to <see cref="Max"/> in every list (0 answers only the counts); absent,
/// the list's <c>[DefaultValue]</c> on the parameter, else <see cref="Default"/>.
/// </summary>
public readonly record struct PageLimit(int Value) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => QueryValue.Describe(parameter, builder, "integer", "int32");

    public const int Default = 100;
    public const int Max = 1000;

    public static ValueTask<PageLimit> BindAsync(HttpContext http, ParameterInfo parameter) =>
        ValueTask.FromResult(new PageLimit(QueryValue.WholeNumber(
            http, parameter, parameter.GetCustomAttribute<System.ComponentModel.DefaultValueAttribute>()?.Value as int? ?? Default, 0, Max)));
}

/// <summary><c>offset</c>: rows to skip, 0 or more, 0 when absent.</summary>
public readonly record struct PageOffset(int Value) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => QueryValue.Describe(parameter, builder, "integer", "int32");

    public static ValueTask<PageOffset> BindAsync(HttpContext http, ParameterInfo parameter) =>
        ValueTask.FromResult(new PageOffset(QueryValue.WholeNumber(http, parameter, 0, 0)));
}

/// <summary>A filter by a schedule's id (e.g. <c>scheduleId</c>): a whole number of 1 or more, once.</summary>
public sealed record ScheduleIdFilter(int Value) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => QueryValue.Describe(parameter, builder, "integer", "int32");

    public static ValueTask<ScheduleIdFilter?> BindAsync(HttpContext http, ParameterInfo parameter) =>
        ValueTask.FromResult(QueryValue.WholeNumber(http, parameter, absent: 0, min: 1) is > 0 and var id ? new ScheduleIdFilter(id) : null);
}

/// <summary>A filter by a crew endpoint's name (<c>endpoint</c>), by <see cref="PlatformNames.IsEndpointName"/>.</summary>
public sealed record EndpointFilter(string Value) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => QueryValue.Describe(parameter, builder, "string");

    public static ValueTask<EndpointFilter?> BindAsync(HttpContext http, ParameterInfo parameter) =>
        ValueTask.FromResult(QueryValue.Name(http, parameter, PlatformNames.IsEndpointName, PlatformNames.EndpointNameRule) is { } name ? new EndpointFilter(name) : null);
}

/// <summary>A filter by a segment's name (<c>segment</c>), by <see cref="PlatformNames.IsName"/>.</summary>
public sealed record SegmentFilter(string Value) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => QueryValue.Describe(parameter, builder, "string");

    public static ValueTask<SegmentFilter?> BindAsync(HttpContext http, ParameterInfo parameter) =>
        ValueTask.FromResult(QueryValue.Name(http, parameter, PlatformNames.IsName, PlatformNames.NameRule) is { } name ? new SegmentFilter(name) : null);
}

/// <summary>
/// An <c>{id}</c> route value, read the one way every service does: a malformed id is a 400 <c>Invalid … ID</c> before
/// any lookup. A handler names its id parameter apart from the route value (<c>runId</c>, not <c>id</c>), so that it
/// binds through the type's <c>BindAsync</c>, which can refuse with the contract's message.
/// </summary>
public static class RouteId
{
    /// <summary>The <c>{id}</c> as the OpenAPI document describes it, for a type that binds it itself.</summary>
    public static void Describe(EndpointBuilder builder, string type, string format) =>
        builder.Metadata.Add(new BoundValueSchema("id", ParameterLocation.Path, type, format));

    public static int PositiveWholeNumber(HttpContext http, string invalid) =>
        ServiceDefaults.WholeNumber.TryParse(http.GetRouteValue("id") as string, out var id) && id > 0 ? id : throw new InvalidRequestException(invalid);

    public static Guid Guid(HttpContext http, string invalid) =>
        System.Guid.TryParse(http.GetRouteValue("id") as string, out var id) ? id : throw new InvalidRequestException(invalid);
}
