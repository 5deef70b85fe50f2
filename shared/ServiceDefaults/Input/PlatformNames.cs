using System.Text.RegularExpressions;

namespace CrewPlatform.ServiceDefaults;

/// <summary>
/// The names operators choose, one rule each wherever they are given: in a body, a query string or a setting.
/// Segment and schedule names (<see cref="IsName"/>); crew endpoint names, which become queue names (<see cref="IsEndpointName"/>).
/// </summary>
public static partial class PlatformNames
{
    /// <summary>What a segment or schedule name is, as a refusal says it.</summary>
    public const string NameRule = "1 to 64 lower-case letters, digits, dashes and underscores";

    /// <summary>What a crew endpoint name is, as a refusal says it.</summary>
    public const string EndpointNameRule = "1 to 40 lower-case letters, digits and dashes";

    public static bool IsName(string name) => Name().IsMatch(name);

    public static bool IsEndpointName(string name) => EndpointName().IsMatch(name);

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,63}$")]
    private static partial Regex Name();

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,39}$")]
    private static partial Regex EndpointName();
}
