using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace CrewPlatform.Gateway.Auth;

/// <summary>A named key: only its SHA-256 is kept, so the key itself is never logged or printed.</summary>
public sealed record ApiKey(string Name, string Role, byte[] Hash)
{
    public static byte[] HashOf(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}

/// <summary>
/// The gateway's API keys and what is wrong with how they are written. Each entry is <c>name:role:key</c>: a name
/// of letters, digits, <c>.</c>, <c>_</c> or <c>-</c> (it appears in the access log), the role <c>admin</c> or
/// <c>read</c>, and a key of at least <see cref="MinimumKeyLength"/> characters (everything after the second colon).
/// <c>CREW_API_KEYS</c> separates entries with commas; <c>CREW_API_KEYS_FILE</c> holds one a line, blank lines and
/// lines starting with <c>#</c> ignored; <c>CREW_ADMIN_TOKEN</c> is the admin key named <c>admin</c>. A problem names
/// the setting and the entry's position, never a part of the entry.
/// </summary>
public sealed partial class ApiKeyList
{
    public const int MinimumKeyLength = 16;
    public const string LegacyAdminName = "admin";

    public IReadOnlyList<ApiKey> Keys { get; }

    public IReadOnlyList<string> Problems { get; }

    private ApiKeyList(IReadOnlyList<ApiKey> keys, IReadOnlyList<string> problems)
    {
        Keys = keys;
        Problems = problems;
    }

    public static ApiKeyList Read(GatewayOptions options)
    {
        var keys = new List<(ApiKey Key, string Origin)>();
        var problems = new List<string>();

        if (options.Token is { } token)
        {
            keys.Add((new ApiKey(LegacyAdminName, ApiAccess.AdminRole, ApiKey.HashOf(token)), GatewayOptions.AdminTokenKey));
        }

        var entries = Entries(GatewayOptions.ApiKeysKey, "entry", options.ApiKeys?.Split(',') ?? []);
        if (options.ApiKeysFile is { } file)
        {
            try
            {
                entries = entries.Concat(Entries(GatewayOptions.ApiKeysFileKey, "line", File.ReadAllLines(file)));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problems.Add($"{GatewayOptions.ApiKeysFileKey}: cannot read '{file}': {e.Message}");
            }
        }

        foreach (var (origin, text) in entries)
        {
            var (key, problem) = Parse(text);
            if (key is null)
            {
                problems.Add($"{origin}: {problem}");
            }
            else if (keys.FirstOrDefault(k => string.Equals(k.Key.Name, key.Name, StringComparison.OrdinalIgnoreCase)) is { Key: not null } sameName)
            {
                problems.Add($"{origin}: its name is already the name of {sameName.Origin}; each key needs its own name");
            }
            else if (keys.FirstOrDefault(k => k.Key.Hash.AsSpan().SequenceEqual(key.Hash)) is { Key: not null } sameKey)
            {
                problems.Add($"{origin}: its key is already the key of {sameKey.Origin}; each name needs its own key");
            }
            else
            {
                keys.Add((key, origin));
            }
        }

        return new ApiKeyList(keys.Select(k => k.Key).ToList(), problems);
    }

    private static IEnumerable<(string Origin, string Text)> Entries(string setting, string unit, IEnumerable<string> lines) =>
        lines.Select((line, index) => (Origin: $"{setting} {unit} {index + 1}", Text: line.Trim()))
            .Where(entry => entry.Text.Length > 0 && !(unit == "line" && entry.Text.StartsWith('#')));

    // Problems quote no part of an entry, not even its name: in an entry written in the wrong order, it could be the key.
    private static (ApiKey? Key, string? Problem) Parse(string text)
    {
        var parts = text.Split(':', 3);
        if (parts.Length < 3)
        {
            return (null, "is not name:role:key");
        }

        var (name, role, key) = (parts[0].Trim(), parts[1].Trim(), parts[2].Trim());
        if (!ValidName().IsMatch(name))
        {
            return (null, "the name must be 1 to 64 letters, digits, '.', '_' or '-'");
        }

        if (role is not (ApiAccess.AdminRole or ApiAccess.ReadRole))
        {
            return (null, $"the role must be '{ApiAccess.AdminRole}' or '{ApiAccess.ReadRole}'");
        }

        if (key.Length < MinimumKeyLength)
        {
            return (null, key.Length == 0 ? "the key is empty" : $"the key is shorter than {MinimumKeyLength} characters");
        }

        return (new ApiKey(name, role, ApiKey.HashOf(key)), null);
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex ValidName();
}
