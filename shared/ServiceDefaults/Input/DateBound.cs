using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;

namespace CrewPlatform.ServiceDefaults;

/// <summary>A time bound of a list (<c>startDate</c>, <c>endDate</c>, <c>from</c>, <c>to</c>): an ISO-8601 date or date-time; without an offset it is UTC, the zone timestamps are kept in.</summary>
public sealed partial record DateBound(DateTime Instant, bool IsWholeDay) : IEndpointParameterMetadataProvider
{
    public static void PopulateMetadata(ParameterInfo parameter, EndpointBuilder builder) => QueryValue.Describe(parameter, builder, "string", "date-time");

    private static readonly string[] DateTimeFormats =
    [
        "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF",
        "yyyy-MM-dd'T'HH:mmK", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
        "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFFF", "yyyy-MM-dd HH:mm:ssK", "yyyy-MM-dd HH:mm:ss.FFFFFFFK",
    ];

    /// <summary>
    /// An upper bound: a bare date means the whole of that day (UTC), up to the next midnight excluded. The last day a
    /// DateTime can hold has no next day: up to its end means no upper bound at all.
    /// </summary>
    public static (DateTime? Instant, bool Exclusive) AsEnd(DateBound? bound) => bound switch
    {
        null => (null, false),
        { IsWholeDay: false } end => (end.Instant, false),
        var end when end.Instant.Date == DateTime.MaxValue.Date => (null, true),
        var end => (end.Instant.AddDays(1), true),
    };

    public static ValueTask<DateBound?> BindAsync(HttpContext http, ParameterInfo parameter)
    {
        var text = QueryValue.Single(http, parameter, out var name);
        return ValueTask.FromResult(text is null
            ? null
            : Parse(text) ?? throw new InvalidRequestException($"{name} must be an ISO-8601 date or date-time"));
    }

    private static DateBound? Parse(string text)
    {
        const DateTimeStyles Utc = DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal;
        if (DateTime.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, Utc, out var date))
        {
            return new DateBound(DateTime.SpecifyKind(date, DateTimeKind.Utc), true);
        }

        // An unencoded "+02:00" in a query string arrives as " 02:00".
        text = UnencodedPlusOffset().Replace(text, "$1+$2");
        return DateTimeOffset.TryParseExact(text, DateTimeFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var instant)
            ? new DateBound(instant.UtcDateTime, false)
            : null;
    }

    [GeneratedRegex(@"^(.+T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:\d{2})$")]
    private static partial Regex UnencodedPlusOffset();
}
