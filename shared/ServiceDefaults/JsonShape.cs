using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace CrewPlatform.ServiceDefaults;

/// <summary>What a crew answer's text is as JSON: the platform stores only objects and arrays.</summary>
public enum JsonRoot
{
    Invalid,
    Scalar,
    ObjectOrArray,
}

/// <summary>The platform's one check that a text is a JSON object or array, for UTF-8 bytes and for strings.</summary>
public static class JsonShape
{
    public static JsonRoot Classify(string json) => Classify(() => JsonDocument.Parse(json));

    /// <summary>
    /// Whether UTF-8 bytes are one JSON object or array (the verdict <see cref="Classify(string)"/> gives a string), in
    /// one forward pass of the reader that builds no document: it runs once per crew answer.
    /// </summary>
    public static bool IsObjectOrArray(ReadOnlySpan<byte> utf8Json)
    {
        var reader = new Utf8JsonReader(utf8Json);
        try
        {
            if (!reader.Read() || reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray))
            {
                return false;
            }

            reader.Skip();
            return !reader.Read(); // anything but whitespace after the root throws
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// A JSON string's value, or false for one that is valid JSON but no valid UTF-16 text: an escaped lone surrogate
    /// (<c>"\ud800"</c>), on which <see cref="JsonElement.GetString"/> throws.
    /// </summary>
    public static bool TryGetString(JsonElement element, [NotNullWhen(true)] out string? value)
    {
        try
        {
            value = element.GetString();
            return value is not null;
        }
        catch (InvalidOperationException)
        {
            value = null;
            return false;
        }
    }

    /// <summary>
    /// The refusal of a body with a field the request does not take (a misspelt or not-yet-supported option must not
    /// be ignored: a run-now would start a full paid run without it), or null when every field is known.
    /// </summary>
    public static string? UnknownFields(JsonElement body, string request, IReadOnlyCollection<string> known)
    {
        var unknown = body.EnumerateObject().Select(NameOf).Where(name => name is null || !known.Contains(name)).Distinct().ToList();
        if (unknown.Count == 0)
        {
            return null;
        }

        var named = string.Join(", ", unknown.Take(MaxUnknownFieldsNamed).Select(name => $"'{Printable(name)}'"));
        var more = unknown.Count > MaxUnknownFieldsNamed ? $" and {unknown.Count - MaxUnknownFieldsNamed} more" : "";
        return $"Unknown {(unknown.Count == 1 ? "field" : "fields")} {named}{more}: {request} takes {string.Join(", ", known)}";
    }

    private const int MaxUnknownFieldsNamed = 10;

    /// <summary>A field name as the refusal quotes it: at most 64 characters, no surrogate (which may not be valid UTF-16).</summary>
    private static string Printable(string? name) =>
        new([.. (name ?? "\uFFFD").Take(64).Select(c => char.IsSurrogate(c) ? '\uFFFD' : c)]);

    /// <summary>A property's name, or null when it is not valid text (an escaped lone surrogate).</summary>
    public static string? NameOf(JsonProperty property)
    {
        try
        {
            return property.Name;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static JsonRoot Classify(Func<JsonDocument> parse)
    {
        try
        {
            using var document = parse();
            return document.RootElement.ValueKind is JsonValueKind.Object or JsonValueKind.Array ? JsonRoot.ObjectOrArray : JsonRoot.Scalar;
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException)
        {
            // ArgumentException: a string that is not valid UTF-16 (a lone surrogate) cannot even be transcoded.
            return JsonRoot.Invalid;
        }
    }
}
