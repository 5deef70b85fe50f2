using System.Text.RegularExpressions;
using CrewPlatform.ServiceDefaults;

namespace CrewPlatform.Scheduler.Persistence;

/// <summary>
/// A named filter over the host application's <c>users</c> table, from configuration only (never SQL from a caller):
/// <c>CREW_SEGMENTS__{name}__Column</c> with one of <c>__EqualTo</c> (a value), <c>__In</c> (comma-separated values)
/// or <c>__IsTrue=true</c> (a boolean column), and/or <c>__UidPrefix</c>. All given conditions must hold. Values are
/// compared as text, so a number or an enum column works too.
/// </summary>
public sealed partial class SegmentDefinition
{
    /// <summary>The built-in segment: every user.</summary>
    public const string All = "all";

    public string? Column { get; set; }

    public string? EqualTo { get; set; }

    public string? In { get; set; }

    public bool IsTrue { get; set; }

    public string? UidPrefix { get; set; }

    public IReadOnlyList<string> InValues() =>
        (In ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    public static IEnumerable<string> Problems(IReadOnlyDictionary<string, SegmentDefinition>? segments)
    {
        foreach (var (name, segment) in segments ?? new Dictionary<string, SegmentDefinition>())
        {
            var key = $"CREW_SEGMENTS__{name}";
            if (!PlatformNames.IsName(name) || name == All)
            {
                yield return $"{key}: a segment name is {PlatformNames.NameRule}, and not 'all' (built in)";
            }

            var conditions = (segment.EqualTo is null ? 0 : 1) + (segment.In is null ? 0 : 1) + (segment.IsTrue ? 1 : 0);
            if (segment.Column is null ? conditions > 0 : conditions != 1)
            {
                yield return $"{key}: a Column needs exactly one of EqualTo, In or IsTrue, and they need a Column";
            }

            if (segment.Column is not null && !ValidColumn().IsMatch(segment.Column))
            {
                yield return $"{key}__Column must be a plain column name (letters, digits, underscores)";
            }

            if (segment.In is not null && segment.InValues().Count == 0)
            {
                yield return $"{key}__In must list at least one value";
            }

            if (segment.Column is null && string.IsNullOrEmpty(segment.UidPrefix))
            {
                yield return $"{key} has no condition: give a Column or a UidPrefix";
            }
        }
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    private static partial Regex ValidColumn();
}
